#!/usr/bin/env python
"""Stage-2 training throughput: a naive loop against the package's loop, in the same run.

    python benchmarks/train_throughput.py                       # CPU: the lite preset only
    python benchmarks/train_throughput.py --device cuda --presets lite,smol,qwen,paper
    python benchmarks/train_throughput.py --presets smol --batch-size 16 --steps 30 --lengths equal

Every model is built from its preset's dimensions with random weights (nothing is downloaded):
the lite preset as shipped in shape (LiteViT + a Llama, the lite tokenizer); `smol` as SigLIP-B/16
+ SmolLM2-360M, `qwen` as CLIP ViT-B/16 + Qwen2.5-0.5B, `paper` as an EVA-CLIP-g-sized ViT (1408 x
39) + 32 pooled tokens + a Vicuna-7B-sized Llama. Only the pooling queries and the projection
train, as in SparklesChat; the frozen backbones are held in the precision training picks
(`sparkles_lite.device.choose_precision`: bf16 from compute capability 8.0, fp16 below, fp32 on CPU).

Two loops over the same samples, same model, same optimizer:

* **naive**: batches in data order, every batch padded to the config's `max_length`, and the
  frozen vision tower recomputed from (already preprocessed) pixels at every step. Image decoding
  is left out, which flatters the naive loop.
* **optimized** (what `sparkles_lite.train.finetune` does): frozen vision features computed once
  per distinct image (`FeatureCache`), batches grouped by length (`length_grouped_batches`) and
  padded only to their longest member (`collate`). `cache_build_s` is the one-off cost of the
  cache; `samples_per_s_incl_cache` charges it to the measured steps (a one-epoch worst case:
  every sample is seen once).

Lengths: `--lengths sparkles` (default) draws a SparklesDialogue-like mix for the full presets:
two turns, 2-4 images of 32 tokens each, about 450 tokens per dialogue in all (the lite preset
uses real lite stage-2 data instead); `--lengths equal` gives every sample the same length (the
mix's mean; lite: the longest lite sample) and pads the naive loop only to that, so neither loop pads and the ratio isolates the
feature cache.

Prints one JSON object to stdout (progress notes go to stderr): per preset samples/s, tokens/s
(non-padding tokens), padding fraction, the optimized/naive ratio, or a `skipped` note.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparkles_lite import assets  # noqa: E402
from sparkles_lite.config import SparklesConfig, preset  # noqa: E402
from sparkles_lite.device import choose_precision, pick_device  # noqa: E402
from sparkles_lite.lite.training import lite_items  # noqa: E402
from sparkles_lite.model.assembly import IGNORE, Assembled, collate, round_up  # noqa: E402
from sparkles_lite.model.sparkles_chat import SparklesChat  # noqa: E402
from sparkles_lite.train import common  # noqa: E402
from sparkles_lite.train.common import length_grouped_batches  # noqa: E402
from sparkles_lite.train.finetune import FeatureCache  # noqa: E402

ALL_PRESETS = ("lite", "smol", "qwen", "paper")
MEAN_TOKENS = 450  # SparklesDialogue-like: two turns over 2-4 images, images included

# What the preset's checkpoints are, beyond the sizes in sparkles_lite.config (their config.json files).
ARCH = {
    "smol": dict(vision="siglip", vision_intermediate=3072, lm="llama", kv_heads=5, vocab=49152, tied=True),
    "qwen": dict(vision="clip", vision_intermediate=3072, lm="qwen2", kv_heads=2, vocab=151936, tied=True),
    "paper": dict(vision="clip", vision_intermediate=6144, lm="llama", kv_heads=32, vocab=32000, tied=False),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- models with random weights

@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def lite_tokenizer():
    from sparkles_lite.model.tokenizer import load_tokenizer
    return load_tokenizer(assets.LITE_LM)


def build_model(name: str, device: torch.device, seed: int = 0, dtype: str = "auto") -> SparklesChat:
    """The preset's shapes, random weights; frozen backbones in the precision training would choose."""
    cfg = preset(name)
    precision = choose_precision(device, dtype)
    tokenizer = lite_tokenizer()  # any tokenizer will do: the full presets' samples are synthetic ids
    torch.manual_seed(seed)
    if name == "lite":
        from sparkles_lite.model.language import build_lite_lm
        from sparkles_lite.model.vision import LiteViT
        vision, lm = LiteViT(cfg.vision), build_lite_lm(cfg.lm, vocab_size=len(tokenizer))
        model = SparklesChat(cfg, vision, lm, tokenizer, precision)
        return model.to(device)
    with torch.device(device), default_dtype(precision.weights):
        vision, lm = _hf_backbones(cfg, ARCH[name])
    model = SparklesChat(cfg, vision, lm, tokenizer, precision)
    model.pooling.float().to(device)
    model.projection.float().to(device)
    return model


def _hf_backbones(cfg: SparklesConfig, arch: dict):
    from transformers import (CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM, Qwen2Config,
                              Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel)

    from sparkles_lite.model.vision import CLIP_MEAN, CLIP_STD, HFVisionTower

    v = cfg.vision
    vkw = dict(hidden_size=v.dim, intermediate_size=arch["vision_intermediate"], num_hidden_layers=v.depth,
               num_attention_heads=v.heads, image_size=v.image_size, patch_size=v.patch_size)
    if arch["vision"] == "siglip":
        vision = HFVisionTower(SiglipVisionModel(SiglipVisionConfig(**vkw)), [0.5] * 3, [0.5] * 3)
    else:
        vision = HFVisionTower(CLIPVisionModel(CLIPVisionConfig(**vkw)), CLIP_MEAN, CLIP_STD)
    m = cfg.lm
    lkw = dict(vocab_size=arch["vocab"], hidden_size=m.hidden, num_hidden_layers=m.layers,
               num_attention_heads=m.heads, num_key_value_heads=arch["kv_heads"], intermediate_size=m.intermediate,
               max_position_embeddings=m.max_positions, tie_word_embeddings=arch["tied"], bos_token_id=1,
               eos_token_id=2, pad_token_id=0, attn_implementation="sdpa")
    lm = (LlamaForCausalLM(LlamaConfig(**lkw)) if arch["lm"] == "llama" else Qwen2ForCausalLM(Qwen2Config(**lkw)))
    return vision, lm


# ---------------------------------------------------------------- samples

def synthetic_samples(model: SparklesChat, n: int, rng: random.Random, equal: bool,
                      mean_tokens: int = MEAN_TOKENS) -> tuple[list[Assembled], list[list]]:
    """SparklesDialogue-like token layouts: BOS, user 1 (1-2 images), answer 1, user 2 (the rest), answer 2.

    Text ids are random (the cost of a token does not depend on its id); answers are supervised.
    """
    k, max_len = model.tokens_per_image, model.config.max_length
    vocab = min(model.lm.config.vocab_size, len(model.tokenizer))
    samples, keys = [], []
    for i in range(n):
        n_img = rng.choice((2, 2, 3, 3, 4))
        total = mean_tokens if equal else int(min(max_len, max(160, rng.gauss(mean_tokens, 110))))
        text = max(8, total - 1 - n_img * k)
        user1, ans1, user2 = int(text * 0.12), int(text * 0.38), int(text * 0.12)
        ans2 = text - user1 - ans1 - user2
        first = rng.randint(1, min(2, n_img - 1))
        ids, labels, image_index = [1], [IGNORE], [-1]

        def add_text(m: int, supervised: bool) -> None:
            toks = [rng.randrange(10, vocab) for _ in range(m)]
            ids.extend(toks)
            labels.extend(toks if supervised else [IGNORE] * m)
            image_index.extend([-1] * m)

        def add_images(first_image: int, count: int) -> None:
            for j in range(first_image, first_image + count):
                ids.extend([model.image_token_id] * k)
                labels.extend([IGNORE] * k)
                image_index.extend([j] * k)

        add_text(user1, False), add_images(0, first), add_text(ans1, True)
        add_text(user2, False), add_images(first, n_img - first), add_text(ans2, True)
        samples.append(Assembled(ids, labels, image_index, [0] * len(ids), n_img))
        keys.append([(i, j) for j in range(n_img)])
    return samples, keys


def synthetic_image(key, size: int) -> Image.Image:
    g = torch.Generator().manual_seed(hash(key) % (2 ** 31))
    return Image.fromarray(torch.randint(0, 256, (size, size, 3), generator=g, dtype=torch.uint8).numpy())


def make_data(name: str, model: SparklesChat, n: int, seed: int, equal: bool):
    """(assembled samples, image keys per sample, key -> PIL image)."""
    if name == "lite":
        items, load = lite_items(2, n, seed)
        assembled = [model.assemble(it.messages) for it in items]
        keys = [it.image_keys for it in items]
        if equal:  # every lite sample extended with supervised text to the longest one's length
            target = max(map(len, assembled))
            assembled = [_fit_length(a, target) for a in assembled]
        return assembled, keys, load
    samples, keys = synthetic_samples(model, n, random.Random(seed), equal)
    size = model.vision.image_size
    return samples, keys, lambda key: synthetic_image(key, size)


def _fit_length(a: Assembled, target: int) -> Assembled:
    ids, labels, image_index = list(a.input_ids), list(a.labels), list(a.image_index)
    while len(ids) < target:  # extend with supervised text: repeat the last text token
        ids.append(ids[-1] if image_index[-1] < 0 else 2)
        labels.append(ids[-1])
        image_index.append(-1)
    return Assembled(ids, labels, image_index, [0] * len(ids), a.n_images)


# ---------------------------------------------------------------- the two loops

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def naive_step(model: SparklesChat, batch: list[Assembled], pixels: torch.Tensor, pad_to: int):
    """Pad to `pad_to`, recompute the frozen vision tower from pixels, forward, loss."""
    b = collate(batch, model.pad_id)
    extra = max(0, pad_to - b.input_ids.shape[1])
    pad = torch.nn.functional.pad
    b.input_ids, b.labels = pad(b.input_ids, (0, extra), value=model.pad_id), pad(b.labels, (0, extra), value=IGNORE)
    b.attention_mask, b.image_mask = pad(b.attention_mask, (0, extra)), pad(b.image_mask, (0, extra))
    b = b.to(model.device)
    with model.precision.autocast():
        features = model.patch_features(pixels.to(model.device))
        out = model(b, model.image_tokens(features))
    return out.loss, int(b.input_ids.numel()), int(b.attention_mask.sum())


def optimized_step(model: SparklesChat, batch: list[Assembled], features: torch.Tensor, pad_to_multiple: int = 1):
    b = collate(batch, model.pad_id, pad_to_multiple=pad_to_multiple).to(model.device)
    with model.precision.autocast():
        loss = model.loss(b, model.image_tokens(features))  # LM head on supervised positions only
    return loss, int(b.input_ids.numel()), int(b.attention_mask.sum())


def run_loop(model, opt, scaler, batches, step_fn, device, warmup: int = 1) -> dict:
    params = [p for p in model.parameters() if p.requires_grad]
    samples = positions = real = 0
    started = None
    step_ms = []  # per measured step: one-off costs of a new batch shape show up as slow early steps
    for i, (batch, extra) in enumerate(batches):
        if i == warmup:
            _sync(device)
            started = time.perf_counter()
        step_start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss, n_pos, n_real = step_fn(batch, extra)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(opt)
        scaler.update()
        if i >= warmup:
            samples, positions, real = samples + len(batch), positions + n_pos, real + n_real
            _sync(device)
            step_ms.append(round((time.perf_counter() - step_start) * 1000, 1))
    _sync(device)
    seconds = time.perf_counter() - started
    return {"steps": len(batches) - warmup, "seconds": round(seconds, 3), "step_ms": step_ms,
            "samples_per_s": round(samples / seconds, 3), "tokens_per_s": round(real / seconds, 1),
            "padding_fraction": round(1 - real / positions, 4), "mean_batch_positions": round(positions / max(1, len(batches) - warmup), 1)}


def bench_preset(name: str, device: torch.device, steps: int, batch_size: int, equal: bool, seed: int,
                 warmup: int = 1, pad_to_multiple: int = 1) -> dict:
    t0 = time.perf_counter()
    model = build_model(name, device, seed)
    model.train()
    counts = model.parameter_counts()
    build_s = time.perf_counter() - t0
    n = (steps + warmup) * batch_size  # `warmup` untimed batches, then `steps` measured ones; each sample once
    assembled, keys, load = make_data(name, model, n, seed, equal)
    lengths = [len(a) for a in assembled]
    params = [p for p in model.parameters() if p.requires_grad]

    def fresh_optimizer():
        return torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0), model.precision.grad_scaler()

    # naive: data order, pixels preprocessed once up front (decoding not charged), vision every step
    order = list(range(n))
    naive_batches = []
    for s in range(0, n, batch_size):
        ids = order[s:s + batch_size]
        images = [load(k) for i in ids for k in keys[i]]
        naive_batches.append(([assembled[i] for i in ids], model.preprocess(images)))
    opt, scaler = fresh_optimizer()
    log(f"[{name}] naive loop: {steps} steps x {batch_size}")
    pad_to = max(lengths) if equal else model.config.max_length  # equal: no padding in either loop
    naive = run_loop(model, opt, scaler, naive_batches,
                     lambda batch, pixels: naive_step(model, batch, pixels, pad_to), device, warmup)
    del naive_batches

    # optimized: feature cache once, length-grouped batches, dynamic padding
    _sync(device)
    t0 = time.perf_counter()
    cache = FeatureCache(model, [k for ks in keys for k in ks], load, batch_size=64, quiet=True)
    _sync(device)
    cache_s = time.perf_counter() - t0
    grouped = length_grouped_batches(lengths, batch_size, random.Random(seed))
    opt_batches = [([assembled[i] for i in ids], cache([k for i in ids for k in keys[i]])) for ids in grouped]
    opt, scaler = fresh_optimizer()
    log(f"[{name}] optimized loop: {steps} steps x {batch_size}")
    optimized = run_loop(model, opt, scaler, opt_batches,
                         lambda batch, feats: optimized_step(model, batch, feats, pad_to_multiple), device, warmup)
    optimized["pad_to_multiple"] = pad_to_multiple
    optimized["distinct_lengths"] = len({round_up(max(lengths[i] for i in ids), pad_to_multiple) for ids in grouped})
    samples = optimized["steps"] * batch_size
    optimized["cache_build_s"] = round(cache_s, 3)
    optimized["samples_per_s_incl_cache"] = round(samples / (optimized["seconds"] + cache_s), 3)
    return {
        "status": "ok",
        "parameters": {k: int(v) for k, v in counts.items()},
        "tokens_per_image": model.tokens_per_image,
        "max_length": model.config.max_length,
        "mean_tokens_per_sample": round(sum(lengths) / len(lengths), 1),
        "images_per_sample": round(sum(map(len, keys)) / len(keys), 2),
        "build_s": round(build_s, 2),
        "naive": naive,
        "optimized": optimized,
        "ratio_optimized_over_naive": round(optimized["samples_per_s"] / naive["samples_per_s"], 3),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda, cuda:1 ...")
    p.add_argument("--presets", default=None,
                   help=f"comma-separated from {','.join(ALL_PRESETS)}; default: all on a GPU, lite on CPU")
    p.add_argument("--steps", type=int, default=10, help="measured steps per loop (after the warm-up steps)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per loop before the measured ones")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lengths", choices=("sparkles", "equal"), default="sparkles")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pad-multiple", type=int, default=None,
                   help="optimized loop: round batch lengths up to a multiple of this (default 64 on a GPU, 1 on CPU)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: 1 when the machine is already busy, else sparkles_lite's choice)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)

    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    elif device.type == "cpu" and os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5:
        torch.set_num_threads(1)  # a busy 2-core machine: 2 threads can collapse ~10x, 1 thread holds up
    else:
        common.set_threads()
    pad_multiple = args.pad_multiple or common.pad_multiple(device)  # default: what training uses
    asked = [s.strip() for s in args.presets.split(",") if s.strip()] if args.presets else None
    for name in asked or []:
        if name not in ALL_PRESETS:
            p.error(f"unknown preset {name!r}; choose from {', '.join(ALL_PRESETS)}")
    report = {
        "benchmark": "stage-2 training throughput, naive vs optimized loop",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or platform.machine()})",
        "threads": torch.get_num_threads(), "load_average_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "steps": args.steps, "warmup": args.warmup, "batch_size": args.batch_size, "lengths": args.lengths, "seed": args.seed,
        "pad_to_multiple": pad_multiple,
        "results": {},
    }
    for name in ALL_PRESETS:
        if asked is not None and name not in asked:
            continue
        if device.type != "cuda" and name == "paper":
            report["results"][name] = {"status": "skipped", "note": "paper-sized (EVA-CLIP-g + 7B LM) needs a GPU"}
            continue
        if device.type != "cuda" and asked is None and name != "lite":
            report["results"][name] = {"status": "skipped",
                                       "note": f"on CPU only lite runs by default; pass --presets {name} to time it"}
            continue
        try:
            report["results"][name] = bench_preset(name, device, args.steps, args.batch_size,
                                                   args.lengths == "equal", args.seed, args.warmup, pad_multiple)
        except torch.OutOfMemoryError as exc:  # one preset too big for this card must not lose the others
            report["results"][name] = {"status": "out of memory", "note": str(exc).splitlines()[0]}
        if device.type == "cuda":
            report["results"][name]["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        if args.out:  # written as it goes: a run killed at its time limit keeps the presets already timed
            Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
