"""The one layer SparklesChat trains: vision space -> the LLM's word-embedding space."""

from __future__ import annotations

from torch import nn

from sparkles_lite.config import ProjectionConfig


def build_projection(cfg: ProjectionConfig, vision_dim: int, lm_dim: int) -> nn.Module:
    """The paper's single nn.Linear, or a 2-layer MLP (LLaVA-1.5 style) as an option."""
    if cfg.kind == "linear":
        return nn.Linear(vision_dim, lm_dim)
    if cfg.kind == "mlp":
        return nn.Sequential(nn.Linear(vision_dim, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, lm_dim))
    raise ValueError(f"unknown projection kind {cfg.kind!r}; expected 'linear' or 'mlp'")
