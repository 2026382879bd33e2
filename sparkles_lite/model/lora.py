"""LoRA: a trainable low-rank update beside a frozen linear layer (off by default).

The paper trains only the projection; LoRA on the LM's attention is the option to try when a
frozen LM cannot adapt to image tokens on its own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sparkles_lite.config import LoRAConfig


class LoRALinear(nn.Module):
    """y = W x + (alpha / r) * B A x, with W frozen and B initialised to zero (starts as W)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float):
        super().__init__()
        self.base = base
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.T.to(x.dtype) @ self.lora_b.T.to(x.dtype)) * self.scale


def add_lora(lm: nn.Module, cfg: LoRAConfig) -> int:
    """Wrap every linear layer whose name ends with one of `cfg.targets`; returns how many."""
    wrapped = 0
    for name, module in list(lm.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child_name in cfg.targets:
                setattr(module, child_name, LoRALinear(child, cfg.rank, cfg.alpha))
                wrapped += 1
    if not wrapped:
        raise ValueError(f"no linear layer named {cfg.targets} found for LoRA")
    return wrapped
