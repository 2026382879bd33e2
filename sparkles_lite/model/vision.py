"""Vision towers: a small ViT for the lite tier, and an adapter for Hugging Face CLIP/SigLIP.

Both turn a batch of images into patch features [batch, patches, dim]; both are frozen in
SparklesChat (only the projection trains), so their features can be computed once and cached.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from sparkles_lite.config import VisionConfig


def attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(d)) row by row: [..., queries, d] x [..., keys, d] -> [..., queries, keys]."""
    return (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1)


class Block(nn.Module):
    """Pre-norm transformer block; keeps its last attention map for visualisation when asked."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.keep_attention = False
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if self.keep_attention:
            attn = attention_weights(q, k)
            self.last_attention = attn.detach()
            y = attn @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out(y.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class LiteViT(nn.Module):
    """A ViT small enough to pretrain in a minute: 64x64 images, 8x8 patches -> 64 patch features."""

    def __init__(self, cfg: VisionConfig):
        super().__init__()
        self.cfg = cfg
        self.grid = cfg.image_size // cfg.patch_size
        self.patch_embed = nn.Conv2d(3, cfg.dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.pos_embed = nn.Parameter(torch.randn(1, self.grid * self.grid, cfg.dim) * 0.02)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)

    @property
    def out_dim(self) -> int:
        return self.cfg.dim

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixel_values).flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        return images_to_tensor(images, self.cfg.image_size)

    def save_pretrained(self, path: str | Path, dtype: torch.dtype = torch.float16) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(self.cfg.__dict__, indent=2))
        save_file({k: v.detach().to(dtype).contiguous() for k, v in self.state_dict().items()},
                  str(path / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "LiteViT":
        path = Path(path)
        cfg = VisionConfig(**json.loads((path / "config.json").read_text()))
        model = cls(cfg)
        load_state_strict(model, load_weights(path / "model.safetensors"), str(path))
        return model


def images_to_tensor(images: list[Image.Image], size: int, mean: float | list[float] = 0.5,
                     std: float | list[float] = 0.5) -> torch.Tensor:
    """Resize to size x size RGB and normalise: [batch, 3, size, size] float32."""
    arrays = []
    for img in images:
        img = img.convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BICUBIC)
        arrays.append(torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3))
    x = torch.stack(arrays).permute(0, 3, 1, 2).float() / 255.0
    mean_t = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
    return (x - mean_t) / std_t


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a truncated or foreign file is a ValueError naming it."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no weights file {path}")
    try:
        return load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own (Rust) error type
        raise ValueError(f"{path}: not a readable safetensors file ({type(e).__name__}: {e})") from None


def check_state(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: str,
                require_all: bool = True) -> None:
    """Fail naming every tensor that is unexpected, mis-shaped or (if required) missing."""
    problems = [f"unexpected tensor {name!r} (shape {tuple(t.shape)})" for name, t in state.items() if name not in own]
    problems += [f"tensor {name!r} has shape {tuple(t.shape)}, the model expects {tuple(own[name].shape)}"
                 for name, t in state.items() if name in own and own[name].shape != t.shape]
    missing = [name for name in own if name not in state] if require_all else []
    if missing:
        problems.append(f"missing tensor(s) {', '.join(repr(n) for n in missing)} ({len(missing)} missing)")
    if problems:
        raise ValueError(f"{source}: {'; '.join(problems)}")


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load weights, failing with the name of the first tensor whose shape or presence differs."""
    own = model.state_dict()
    check_state(own, state, source)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


# CLIP's normalisation; SigLIP uses 0.5 / 0.5.
CLIP_MEAN, CLIP_STD = [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]


class HFVisionTower(nn.Module):
    """Any Hugging Face CLIP or SigLIP vision model as a patch-feature extractor."""

    def __init__(self, model: nn.Module, mean: list[float], std: list[float]):
        super().__init__()
        self.model = model
        cfg = model.config
        self.image_size, self.mean, self.std = cfg.image_size, mean, std
        self.grid = cfg.image_size // cfg.patch_size
        self.drop_cls = cfg.model_type.startswith("clip")  # CLIP prepends a CLS token; SigLIP has none

    @property
    def out_dim(self) -> int:
        return self.model.config.hidden_size

    @classmethod
    def from_pretrained(cls, path: str, **kwargs) -> "HFVisionTower":
        from transformers import AutoConfig, CLIPVisionModel, SiglipVisionModel

        model_type = AutoConfig.from_pretrained(path).model_type
        if model_type.startswith("clip"):
            model, mean, std = CLIPVisionModel.from_pretrained(path, **kwargs), CLIP_MEAN, CLIP_STD
        elif model_type.startswith("siglip"):
            model, mean, std = SiglipVisionModel.from_pretrained(path, **kwargs), [0.5] * 3, [0.5] * 3
        else:
            raise ValueError(f"{path}: model_type {model_type!r} is not a CLIP or SigLIP vision model")
        processor_cfg = Path(path) / "preprocessor_config.json"
        if processor_cfg.exists():
            pc = json.loads(processor_cfg.read_text())
            mean, std = pc.get("image_mean", mean), pc.get("image_std", std)
        return cls(model, mean, std)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden = self.model(pixel_values=pixel_values).last_hidden_state
        return hidden[:, 1:] if self.drop_cls else hidden

    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        return images_to_tensor(images, self.image_size, self.mean, self.std)
