"""Image-token pooling: the Q-Former's role in MiniGPT-4 / SparklesChat.

A fixed number of learned queries cross-attend over the patch features, so every image costs
the LLM the same number of tokens (32 in the paper, 9 in the lite world) however many patches
the vision tower makes. `kind="none"` passes all patches through instead.
"""

from __future__ import annotations

import torch
from torch import nn

from sparkles_lite.config import PoolingConfig


class QueryPooling(nn.Module):
    def __init__(self, cfg: PoolingConfig, dim: int):
        super().__init__()
        self.cfg = cfg
        self.queries = nn.Parameter(torch.randn(1, cfg.num_tokens, dim) * 0.02)
        self.norm_q, self.norm_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, cfg.heads, batch_first=True)
        self.norm_out = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.last_attention: torch.Tensor | None = None  # [batch, queries, patches] when kept

    @property
    def num_tokens(self) -> int:
        return self.cfg.num_tokens

    def forward(self, patches: torch.Tensor, keep_attention: bool = False) -> torch.Tensor:
        q = self.norm_q(self.queries.expand(patches.shape[0], -1, -1))
        kv = self.norm_kv(patches)
        y, weights = self.attn(q, kv, kv, need_weights=keep_attention)
        self.last_attention = weights.detach() if keep_attention else None
        y = y + self.queries
        return y + self.mlp(self.norm_out(y))


class NoPooling(nn.Module):
    """Every patch becomes an LLM token (LLaVA-style)."""

    def __init__(self, num_patches: int):
        super().__init__()
        self.num_tokens = num_patches
        self.last_attention = None

    def forward(self, patches: torch.Tensor, keep_attention: bool = False) -> torch.Tensor:
        return patches


def build_pooling(cfg: PoolingConfig, dim: int, num_patches: int) -> nn.Module:
    if cfg.kind == "queries":
        return QueryPooling(cfg, dim)
    if cfg.kind == "none":
        return NoPooling(num_patches)
    raise ValueError(f"unknown pooling kind {cfg.kind!r}; expected 'queries' or 'none'")
