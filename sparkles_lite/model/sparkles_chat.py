"""SparklesChat: frozen vision tower -> pooling -> trainable projection -> frozen LLM.

Images enter the LLM where the text mentions them: each `<ImageHere>` placeholder position is
overwritten in embedding space by that image's projected tokens, in order.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
from PIL import Image
from safetensors.torch import save
from torch import nn
from transformers import AddedToken

from sparkles_lite import assets
from sparkles_lite.config import SparklesConfig, preset
from sparkles_lite.data.io import write_bytes_atomic, write_json_atomic
from sparkles_lite.data.schema import IMAGE_TOKEN, Message
from sparkles_lite.device import Precision, choose_precision, pick_device
from sparkles_lite.model.assembly import IGNORE, Assembled, Batch, ChatFormat, assemble, collate
from sparkles_lite.model.pooling import build_pooling
from sparkles_lite.model.projection import build_projection
from sparkles_lite.model.vision import HFVisionTower, LiteViT, check_state, load_weights

CONFIG_FILE, WEIGHTS_FILE = "sparkles_config.json", "trainable.safetensors"


@dataclass
class Generated:
    text: str
    token_ids: list[int]
    prompt: Assembled
    attentions: tuple | None = None   # per generated step, per layer: [heads, query, keys]


class SparklesChat(nn.Module):
    def __init__(self, config: SparklesConfig, vision: nn.Module, lm: nn.Module, tokenizer,
                 precision: Precision | None = None):
        super().__init__()
        self.config = config
        self.vision = vision
        self.pooling = build_pooling(config.pooling, vision.out_dim, vision.grid ** 2)
        self.projection = build_projection(config.projection, vision.out_dim, lm.config.hidden_size)
        self.lm = lm
        self.tokenizer = tokenizer
        if tokenizer.convert_tokens_to_ids(IMAGE_TOKEN) in (None, tokenizer.unk_token_id):
            tokenizer.add_tokens([AddedToken(IMAGE_TOKEN, special=True, normalized=False)], special_tokens=True)
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        # The lite LM learned the paper's format; a Hugging Face LM speaks its own chat template if it has one.
        self.chat_format = ChatFormat.for_tokenizer(
            tokenizer, template=config.lm.kind != "lite" and bool(getattr(tokenizer, "chat_template", None)))
        self.precision = precision or choose_precision(torch.device("cpu"), "fp32")
        self.freeze_backbones()

    # ------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, config: SparklesConfig, load_backbones: bool = True, seed: int = 0,
                    device: str | torch.device = "cpu", dtype: str = "auto") -> "SparklesChat":
        """Build from a config: backbones from their paths (or the shipped lite ones), or random
        (`load_backbones=False`, the tiny mode tests use: no weights are read, nothing from the hub;
        a random lite LM gets the shipped lite tokenizer).

        `device` (`auto`, `cpu`, `cuda`, `mps`) and `dtype` (`auto`, `fp32`, `bf16`, `fp16`: the frozen
        backbones' precision) as `sparkles_lite.device` chooses them; the trainable parts stay fp32."""
        from sparkles_lite.model.language import build_lite_lm, load_lm
        from sparkles_lite.model.tokenizer import load_tokenizer

        device = device if isinstance(device, torch.device) else pick_device(device)
        precision = choose_precision(device, dtype)
        weights = precision.weights
        vision_weights = weights if config.vision.frozen else torch.float32  # a tower that trains stays fp32
        torch.manual_seed(seed)
        if config.vision.kind == "lite":
            vision_dir = config.vision.path or (assets.LITE_VISION if load_backbones else None)
            vision = LiteViT.from_pretrained(vision_dir) if vision_dir else LiteViT(config.vision)
        elif config.vision.kind == "hf":
            if not config.vision.path:
                raise ValueError(f"preset {config.name!r}: set config.vision.path to a CLIP/SigLIP checkpoint")
            vision = _backbone("vision tower", config.vision.path,
                               lambda p: HFVisionTower.from_pretrained(p, dtype=vision_weights))
        else:
            raise ValueError(f"unknown vision kind {config.vision.kind!r}")
        if config.lm.kind == "lite":
            lm_dir = config.lm.path or (assets.LITE_LM if load_backbones else None)
            if lm_dir:
                tokenizer, lm = load_tokenizer(lm_dir), load_lm(str(lm_dir), dtype=torch.float32)
            else:
                tokenizer = load_tokenizer(assets.LITE_LM)
                lm = build_lite_lm(config.lm, vocab_size=len(tokenizer))
        elif config.lm.kind == "hf":
            if not config.lm.path:
                raise ValueError(f"preset {config.name!r}: set config.lm.path to a causal LM checkpoint")
            from transformers import AutoTokenizer
            tokenizer = _backbone("tokenizer", config.lm.path, AutoTokenizer.from_pretrained)
            # dtype always: a hub checkpoint otherwise loads in its stored dtype (often bf16, 20x slower on a CPU)
            lm = _backbone("LM", config.lm.path, lambda p: load_lm(p, dtype=weights))
        else:
            raise ValueError(f"unknown lm kind {config.lm.kind!r}")
        vision.to(vision_weights), lm.to(weights)
        if config.lora.enabled:
            from sparkles_lite.model.lora import add_lora
            add_lora(lm, config.lora)
        torch.manual_seed(seed)
        return cls(config, vision, lm, tokenizer, precision).to(device)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, load_backbones: bool = True,
                        device: str | torch.device = "cpu", dtype: str = "auto") -> "SparklesChat":
        """A saved model directory, a shipped model name (`sparkleschat-lite`, `minigpt4-lite`,
        `control-lite`) or a preset name (fresh projection); `device` and `dtype` as in `from_config`."""
        path = assets.resolve_model(str(name_or_path))
        if path is None:
            return cls.from_config(preset(str(name_or_path)), load_backbones=load_backbones, device=device,
                                   dtype=dtype)
        meta = json.loads((path / CONFIG_FILE).read_text())
        config = SparklesConfig.from_dict(meta["config"])
        for part in ("vision", "lm"):
            backbone = getattr(config, part)
            backbone.path = locate_backbone(path, part, backbone.path, meta.get("backbones", {}).get(part))
        model = cls.from_config(config, load_backbones=load_backbones, device=device, dtype=dtype)
        model.load_trainable(path / WEIGHTS_FILE)
        return model

    def save_pretrained(self, path: str | Path, extra: dict | None = None) -> None:
        """Config (with backbone references) + only the trainable weights, as safetensors; each file
        written atomically (a failed write keeps the file it would have replaced).

        A backbone on local disk is stored relative to the saved folder, with its absolute path beside
        it, so the model loads from any working directory, and after the folder and its backbones
        move together; a hub id stays an id."""
        path = Path(path)
        state = self.trainable_state_dict()
        write_bytes_atomic(path / WEIGHTS_FILE, save({k: v.detach().contiguous().cpu() for k, v in state.items()}))
        config = self.config.to_dict()
        backbones = {}
        for part in ("vision", "lm"):
            local = config[part]["path"]
            if local is not None and Path(local).exists():
                absolute = os.path.abspath(local)
                config[part]["path"] = os.path.relpath(absolute, os.path.abspath(path))
                backbones[part] = {"relative_to_this_folder": config[part]["path"], "absolute": absolute}
        write_json_atomic(path / CONFIG_FILE, {"config": config, "backbones": backbones, "trainable_tensors": sorted(state),
                                               **(extra or {})})

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def load_trainable(self, file: str | Path) -> None:
        """Load the trainable weights; the file must hold every one of them, and nothing else."""
        state = load_weights(file)
        check_state(self.trainable_state_dict(), state, str(file))
        own = dict(self.named_parameters())
        with torch.no_grad():
            for name, tensor in state.items():
                own[name].copy_(tensor.to(own[name].dtype))

    def freeze_backbones(self) -> None:
        """Only pooling (if configured) and the projection train; vision tower and LM are frozen."""
        for p in self.vision.parameters():
            p.requires_grad_(not self.config.vision.frozen)
        for name, p in self.lm.named_parameters():
            p.requires_grad_("lora_" in name)
        for p in self.pooling.parameters():
            p.requires_grad_(self.config.pooling.trainable)
        for p in self.projection.parameters():
            p.requires_grad_(True)

    def parameter_counts(self) -> dict[str, int]:
        parts = {"vision": self.vision, "pooling": self.pooling, "projection": self.projection, "lm": self.lm}
        counts = {name: sum(p.numel() for p in m.parameters()) for name, m in parts.items()}
        counts["trainable"] = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return counts

    def train(self, mode: bool = True) -> "SparklesChat":
        super().train(mode)
        if self.config.vision.frozen:
            self.vision.eval()
        self.lm.eval()  # frozen: no dropout, whatever the mode
        return self

    @property
    def device(self) -> torch.device:
        return self.projection.weight.device if hasattr(self.projection, "weight") else next(self.parameters()).device

    @property
    def after_image(self) -> str:
        """Text after each image's tokens (`LMConfig.text_after_image`): the lite preset's ' ', as in the
        `<Img> w1 ... w9 </Img>` the lite LM learned images as; nothing for other LMs."""
        return self.config.lm.text_after_image

    @property
    def tokens_per_image(self) -> int:
        return self.pooling.num_tokens

    # ------------------------------------------------------------ images
    def preprocess(self, images: list[Image.Image]) -> torch.Tensor:
        return self.vision.preprocess(images)

    def patch_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Vision-tower output; computed without gradients when the tower is frozen (cacheable)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.vision.frozen):
            return self.vision(pixel_values.to(self.device, self.precision.weights))

    def image_tokens(self, features: torch.Tensor, keep_attention: bool = False) -> torch.Tensor:
        """Patch features [N, P, Dv] (in the backbones' dtype) -> LLM-space image tokens [N, K, Dlm],
        computed by the fp32 trainable layers (under training's autocast the matmuls cast for themselves)."""
        if not torch.is_autocast_enabled(features.device.type):
            features = features.float()
        return self.projection(self.pooling(features, keep_attention=keep_attention))

    def encode_images(self, images: list[Image.Image], keep_attention: bool = False) -> torch.Tensor:
        if not images:
            return torch.zeros(0, self.tokens_per_image, self.lm.config.hidden_size, device=self.device)
        return self.image_tokens(self.patch_features(self.preprocess(images)), keep_attention)

    # ------------------------------------------------------------ the splice
    def embed(self, batch: Batch, image_tokens: torch.Tensor) -> torch.Tensor:
        """Word embeddings with every image position overwritten by its image token, in order."""
        ids = batch.input_ids.masked_fill(batch.image_mask, self.pad_id)
        return splice(self.lm.get_input_embeddings()(ids), batch.image_mask, image_tokens)

    def forward(self, batch: Batch, image_tokens: torch.Tensor):
        """Causal-LM loss on the supervised (assistant) positions."""
        embeds = self.embed(batch, image_tokens)
        return self.lm(inputs_embeds=embeds, attention_mask=batch.attention_mask, labels=batch.labels)

    def loss(self, batch: Batch, image_tokens: torch.Tensor) -> torch.Tensor:
        """`forward(...).loss` without the full logits: training needs the LM head only where a label
        follows. Prompts and image tokens are much of a multi-image sequence, and with a 50-150k
        vocabulary their logits (kept in fp32 for the loss) would be the largest tensor of the step."""
        hidden = self.lm.get_decoder()(inputs_embeds=self.embed(batch, image_tokens),
                                       attention_mask=batch.attention_mask).last_hidden_state
        predicting, targets = supervised(hidden, batch.labels)
        logits = self.lm.get_output_embeddings()(predicting)
        return nn.functional.cross_entropy(logits.float(), targets)

    def assemble(self, messages: list[Message], add_generation_prompt: bool = False,
                 supervise: str = "all") -> Assembled:
        return assemble(messages, self.tokenizer, self.tokens_per_image, self.config.max_length,
                        add_generation_prompt=add_generation_prompt, after_image=self.after_image,
                        template=self.chat_format.template, supervise=supervise)

    # ------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(self, messages: list[Message], images: list[Image.Image], max_new_tokens: int = 48,
                 do_sample: bool = False, temperature: float = 1.0, top_p: float = 1.0,
                 use_cache: bool = True, output_attentions: bool = False,
                 on_text: Callable[[str], None] | None = None) -> Generated:
        """Answer the conversation (ending with a user message). `images` in placeholder order.
        `on_text` receives the growing answer as it streams."""
        prompt = self.assemble(messages, add_generation_prompt=True)
        images = list(images)[_dropped_images(messages, prompt, len(images)):]
        batch = collate([prompt], self.pad_id).to(self.device)
        tokens = self.encode_images(images)
        kwargs = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, use_cache=use_cache)
        if do_sample:
            kwargs.update(temperature=temperature, top_p=top_p)
        streamer = _CallbackStreamer(self.tokenizer, self.chat_format, on_text) if on_text else None
        with self._attention_mode(output_attentions):
            out = self.lm.generate(inputs_embeds=self.embed(batch, tokens), attention_mask=batch.attention_mask,
                                   output_attentions=output_attentions, return_dict_in_generate=True,
                                   streamer=streamer, **self.chat_format.generate_kwargs(self.tokenizer, self.pad_id),
                                   **kwargs)
        ids = out.sequences[0].tolist()
        attentions = None
        if output_attentions:
            attentions = tuple(tuple(layer[0].float().cpu() for layer in step) for step in out.attentions)
        return Generated(self.chat_format.answer_text(self.tokenizer, ids), ids, prompt, attentions)

    @torch.no_grad()
    def generate_batch(self, conversations: list[tuple[list[Message], list[Image.Image]]],
                       max_new_tokens: int = 32, image_tokens: list[torch.Tensor] | None = None) -> list[str]:
        """Greedy answers for many conversations at once (left padding); for evaluation.
        `image_tokens` (one [n_i, K, D] tensor per conversation) skips the vision tower."""
        prompts = [self.assemble(m, add_generation_prompt=True) for m, _ in conversations]
        batch = collate(prompts, self.pad_id, padding_side="left").to(self.device)
        # Turns dropped for length take their images with them: skip those images' tokens.
        if image_tokens is None:
            skip = [_dropped_images(m, p, len(imgs)) for (m, imgs), p in zip(conversations, prompts)]
            flat = [img for (_, imgs), k in zip(conversations, skip) for img in imgs[k:]]
            tokens = self.encode_images(flat)
        else:
            skip = [_dropped_images(m, p, t.shape[0]) for (m, _), p, t in zip(conversations, prompts, image_tokens)]
            kept = [t[k:] for t, k in zip(image_tokens, skip) if t.shape[0] > k]
            tokens = torch.cat(kept, dim=0) if kept else self.encode_images([])
        out = self.lm.generate(inputs_embeds=self.embed(batch, tokens), attention_mask=batch.attention_mask,
                               max_new_tokens=max_new_tokens, do_sample=False,
                               **self.chat_format.generate_kwargs(self.tokenizer, self.pad_id))
        return [self.chat_format.answer_text(self.tokenizer, row.tolist()) for row in out]

    @contextmanager
    def _attention_mode(self, need_weights: bool) -> Iterator[None]:
        """Eager attention only while attention weights are wanted: sdpa silently returns none."""
        if not need_weights:
            yield
            return
        previous = self.lm.config._attn_implementation
        self.lm.set_attn_implementation("eager")
        try:
            yield
        finally:
            self.lm.set_attn_implementation(previous)


def locate_backbone(folder: Path, part: str, stored: str | None, local: dict | None) -> str | None:
    """The backbone path a saved model names: a local folder, relative to the saved folder or else at its
    absolute path, or a hub id / None as stored. A local one found in neither place is an error naming both."""
    if not local:
        return stored
    relative = os.path.normpath(os.path.join(os.path.abspath(folder), local["relative_to_this_folder"]))
    for candidate in (relative, local["absolute"]):
        if Path(candidate).exists():
            return candidate
    raise FileNotFoundError(f"saved model {folder}: its {part} backbone is missing: not at {relative} "
                            f"({local['relative_to_this_folder']} relative to the model folder) nor at "
                            f"{local['absolute']}")


def _backbone(what: str, path: str, load: Callable[[str], object]):
    """`load(path)` for a hub id or a folder; transformers' OSError (no such folder, the hub offline or
    unreachable, no such repo) becomes a ValueError naming the part and the path."""
    try:
        return load(path)
    except OSError as e:
        where = "" if Path(path).is_dir() else " (not a folder here; a hub id needs the network once, or the cache)"
        raise ValueError(f"cannot load the {what} {path!r}{where}: {' '.join(str(e).split())}") from e


def splice(embeds: torch.Tensor, image_mask: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
    """`embeds` [B, L, D] with the positions where `image_mask` is True overwritten by the image tokens
    [n, K, D], in row-major order (example by example, image by image); gradients flow to the tokens.
    A ValueError when positions and tokens disagree in number: a mismatch is never guessed."""
    n_slots, n_tokens = int(image_mask.sum()), image_tokens.shape[0] * image_tokens.shape[1]
    if n_slots != n_tokens:
        raise ValueError(f"the batch has {n_slots} image positions but {image_tokens.shape[0]} images x "
                         f"{image_tokens.shape[1]} tokens = {n_tokens} image tokens")
    embeds = embeds.clone()
    embeds[image_mask] = image_tokens.reshape(-1, image_tokens.shape[-1]).to(embeds.dtype)
    return embeds


def supervised(states: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The states [B, L, ...] that predict a supervised token, and those tokens: position t predicts
    label t + 1, and `IGNORE` (-100) marks a label nothing is trained on."""
    targets = labels[:, 1:].to(states.device)
    keep = targets != IGNORE
    return states[:, :-1][keep], targets[keep]


def masked_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy averaged over every supervised token of the batch: what a causal LM's loss with
    `labels=` computes, and what `SparklesChat.loss` computes without the unsupervised logits."""
    predicting, targets = supervised(logits, labels)
    return nn.functional.cross_entropy(predicting.float(), targets)


def _dropped_images(messages: list[Message], prompt: Assembled, n_given: int) -> int:
    """How many of the conversation's images (placeholder order) went with the turns `assemble`
    dropped for length; checks first that one image was given per placeholder."""
    n_placeholders = sum(m.content.count(IMAGE_TOKEN) for m in messages)
    if n_given != n_placeholders:
        raise ValueError(f"the conversation has {n_placeholders} image placeholders but "
                         f"{n_given} images were given")
    return prompt.dropped_images


class _CallbackStreamer:
    """Minimal transformers streamer: decodes the growing answer and hands it to a callback."""

    def __init__(self, tokenizer, chat_format: ChatFormat, callback: Callable[[str], None]):
        self.tokenizer, self.chat_format, self.callback, self.ids, self.first = tokenizer, chat_format, callback, [], True

    def put(self, value: torch.Tensor) -> None:
        if self.first:  # generate() first hands over the prompt (empty with inputs_embeds)
            self.first = False
            if value.numel() == 0 or value.dim() > 1:
                return
        self.ids += value.flatten().tolist()
        self.callback(self.chat_format.answer_text(self.tokenizer, self.ids))

    def end(self) -> None:
        pass
