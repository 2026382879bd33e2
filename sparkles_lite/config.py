"""Every knob of the model in dataclasses, with named presets.

`lite` is tiny and offline (its backbones ship with the package); `smol` and `qwen` name real
Hugging Face checkpoints for one GPU; `paper` has the paper's sizes (EVA-CLIP-g + Q-Former +
Vicuna-7B) for cost estimates. Only CLIP/SigLIP towers load, so a run close to the paper's sets its
`vision.path` to one of those and its `lm.path` to a Vicuna-7B checkpoint. Hub ids appear only here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class VisionConfig:
    kind: str = "lite"               # "lite" (sparkles_lite.model.vision.LiteViT) or "hf" (CLIP/SigLIP)
    path: str | None = None          # hf: local directory or hub id; lite: weights dir (None = shipped)
    image_size: int = 64
    patch_size: int = 8
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    frozen: bool = True


@dataclass
class PoolingConfig:
    """The Q-Former's role: a fixed number of tokens per image, whatever the patch count.

    The paper keeps BLIP-2's 32 queries: enough to summarise a 16x16-patch image while keeping
    four images at 128 LLM tokens. The lite world needs 9 (size, colour, shape x 3 positions).
    """

    kind: str = "queries"            # "queries" (learned queries cross-attend to patches) or "none"
    num_tokens: int = 9
    heads: int = 4
    trainable: bool = True


@dataclass
class ProjectionConfig:
    kind: str = "linear"             # the paper's single nn.Linear, or "mlp"
    hidden: int = 512                # mlp only


@dataclass
class LMConfig:
    kind: str = "lite"               # "lite" (LlamaForCausalLM from this config) or "hf" (any causal LM)
    path: str | None = None          # hf: local dir or hub id; lite: weights dir (None = shipped)
    hidden: int = 384
    layers: int = 6
    heads: int = 6
    intermediate: int = 896
    max_positions: int = 512
    rope_theta: float = 10000.0
    vocab_size: int = 0              # lite: taken from the tokenizer
    # Text after each image's tokens, before `</Img>`: the lite LM was pretrained on images written as
    # `<Img> w1 ... w9 </Img>`, in which a lone ' ' comes before `</Img>`; the lite preset puts the same
    # ' ' there, so the LM meets the projected tokens where it learned the words (without: select -15 points).
    text_after_image: str = ""


@dataclass
class LoRAConfig:
    enabled: bool = False
    rank: int = 8
    alpha: float = 16.0
    targets: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass
class SparklesConfig:
    vision: VisionConfig = field(default_factory=VisionConfig)
    pooling: PoolingConfig = field(default_factory=PoolingConfig)
    projection: ProjectionConfig = field(default_factory=ProjectionConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    max_length: int = 320            # tokens per conversation, images included
    name: str = "lite"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SparklesConfig":
        d = dict(d)
        lora = dict(d.get("lora", {}))
        if "targets" in lora:
            lora["targets"] = tuple(lora["targets"])
        return cls(vision=VisionConfig(**d.get("vision", {})), pooling=PoolingConfig(**d.get("pooling", {})),
                   projection=ProjectionConfig(**d.get("projection", {})), lm=LMConfig(**d.get("lm", {})),
                   lora=LoRAConfig(**lora), max_length=d.get("max_length", 320), name=d.get("name", "custom"))


def preset(name: str) -> SparklesConfig:
    """A fresh copy of a named preset."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return SparklesConfig.from_dict(PRESETS[name].to_dict())


def _hub_preset(name: str, vision_path: str, lm: LMConfig) -> SparklesConfig:
    """A ViT-B/16 tower (SigLIP or CLIP) and a small hub LM, 32 tokens per image: one small GPU."""
    return SparklesConfig(name=name, vision=VisionConfig(kind="hf", path=vision_path, image_size=224, patch_size=16,
                                                         dim=768, depth=12, heads=12),
                          pooling=PoolingConfig(num_tokens=32, heads=8), lm=lm, max_length=1024)


PRESETS: dict[str, SparklesConfig] = {
    "lite": SparklesConfig(name="lite", lm=LMConfig(text_after_image=" ")),
    "smol": _hub_preset("smol", "google/siglip-base-patch16-224",
                        LMConfig(kind="hf", path="HuggingFaceTB/SmolLM2-360M-Instruct", hidden=960, layers=32,
                                 heads=15, intermediate=2560, max_positions=8192)),
    "qwen": _hub_preset("qwen", "openai/clip-vit-base-patch16",
                        LMConfig(kind="hf", path="Qwen/Qwen2.5-0.5B-Instruct", hidden=896, layers=24, heads=14,
                                 intermediate=4864, max_positions=32768)),
    "paper": SparklesConfig(
        name="paper",
        vision=VisionConfig(kind="hf", path=None, image_size=224, patch_size=14, dim=1408, depth=39, heads=16,
                            mlp_ratio=4.3637),
        pooling=PoolingConfig(num_tokens=32, heads=16),  # 1408 = 16 x 88
        lm=LMConfig(kind="hf", path=None, hidden=4096, layers=32, heads=32, intermediate=11008,
                    max_positions=2048, vocab_size=32000),
        max_length=1024),
}
