#!/usr/bin/env python
"""Memory and step time of one preset's stage-2 training step at batch 1, with random weights.

    python benchmarks/preset_memory.py                          # smol on this device (CPU here)
    python benchmarks/preset_memory.py --preset qwen --tokens 450,1024 --steps 3

The model is the preset's shapes with random weights (`train_throughput.build_model`: nothing is
downloaded), in the precision training would choose here (`--dtype` to force one). One sample of
each length in `--tokens` (SparklesDialogue-like: two turns, 2-4 images of 32 tokens, answers
supervised) goes through the package's training step (`SparklesChat.loss` on cached vision
features, backward, AdamW) `--steps` times after one warm-up step. Measured per length:

* `saved_activation_bytes`: every tensor autograd keeps for the backward pass that depends on the
  trainable layers (counted once per storage): what grows with batch and length. Saved tensors that
  do not (`saved_other_bytes`: the frozen weights, the 16-bit copies autocast makes of fp32 weights,
  position tables, masks) are left out: with 16-bit weights on a GPU there are no such copies, and
  the weights are counted in `parameters`. Measured with fp32 weights under bf16 autocast, the
  residual stream stays fp32, so this is an upper bound for fp16 weights.
* `step_ms`: wall time of each measured step; `peak_rss_gib`: the process's peak resident memory.

Then `t4` does the arithmetic for a 16 GB T4 (15.0 GiB usable) in fp16: the weights at 2 bytes
each, the trainable fp32 weights with their gradient and two AdamW moments (16 bytes each), a
1 GiB allowance for the CUDA context and workspace, and the measured activations (at 2 bytes per
element when measured in fp32); the batch that fits; and a lower bound on the step time from the
step's FLOPs at the T4's 65 TFLOP/s fp16 peak (real steps are several times slower).
Prints one JSON object (progress notes on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sparkles_lite.device import pick_device  # noqa: E402
from sparkles_lite.model.assembly import collate  # noqa: E402
from sparkles_lite.train import common  # noqa: E402
from train_throughput import build_model, log, synthetic_samples  # noqa: E402

GIB = 2 ** 30
T4_USABLE_GIB, T4_FP16_FLOPS, CONTEXT_GIB = 15.0, 65e12, 1.0


def saved_bytes(step, parameters) -> tuple[object, int, int]:
    """Run `step()`; (its output, bytes of the distinct storages autograd saves that require grad,
    bytes of the others), parameters themselves excluded."""
    own = {p.untyped_storage().data_ptr() for p in parameters}
    activations: dict[int, int] = {}
    other: dict[int, int] = {}

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        if storage.data_ptr() not in own:
            (activations if t.requires_grad else other)[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = step()
    return out, sum(activations.values()), sum(other.values())


def measure(model, tokens: int, steps: int, seed: int) -> dict:
    samples, keys = synthetic_samples(model, 1, random.Random(seed), equal=True, mean_tokens=tokens)
    sample = samples[0]
    n_images = sample.n_images
    features = torch.randn(n_images, model.vision.grid ** 2, model.vision.out_dim, dtype=model.precision.weights,
                           device=model.device)  # what the feature cache hands over
    batch = collate([sample], model.pad_id).to(model.device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt, scaler = torch.optim.AdamW(params, lr=1e-4), model.precision.grad_scaler()

    def forward():
        with model.precision.autocast():
            return model.loss(batch, model.image_tokens(features))

    times, saved, other = [], 0, 0
    for i in range(steps + 1):  # step 0 warms up
        started = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss, saved, other = saved_bytes(forward, list(model.parameters()))
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if model.device.type == "cuda":
            torch.cuda.synchronize(model.device)
        if i:
            times.append(round((time.perf_counter() - started) * 1000, 1))
        log(f"  {tokens} tokens, step {i}: {(time.perf_counter() - started):.1f}s")
    counts = model.parameter_counts()
    n_params = sum(counts[k] for k in ("pooling", "projection", "lm"))
    return {"tokens": len(sample), "images": n_images, "supervised_tokens": sum(l != -100 for l in sample.labels),
            "saved_activation_bytes": saved, "saved_activation_gib": round(saved / GIB, 3),
            "saved_other_bytes": other, "step_ms": times,
            "median_step_ms": statistics.median(times),
            "flops_per_step": common.flops_per_token(n_params, counts["trainable"]) * len(sample),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB, 2)}


def t4_estimate(counts: dict, measured: dict[int, dict], measured_dtype: torch.dtype, compute) -> dict:
    """What the measurements imply for a 16 GB T4 in fp16 (see the module docstring)."""
    frozen = counts["vision"] + counts["lm"]
    weights_gib = 2 * frozen / GIB
    trainable_gib = 16 * counts["trainable"] / GIB
    sixteen_bit = measured_dtype in (torch.float16, torch.bfloat16) or compute in (torch.float16, torch.bfloat16)
    out = {"weights_fp16_gib": round(weights_gib, 2), "trainable_with_adamw_gib": round(trainable_gib, 3),
           "context_allowance_gib": CONTEXT_GIB,
           "activations_scaled_from": "16-bit autocast (as measured)" if sixteen_bit else "fp32 (halved)",
           "per_length": {}}
    for tokens, m in measured.items():
        act = m["saved_activation_bytes"] / GIB * (1 if sixteen_bit else 0.5)
        free = T4_USABLE_GIB - weights_gib - trainable_gib - CONTEXT_GIB
        out["per_length"][str(tokens)] = {
            "activations_per_sample_gib": round(act, 3), "max_batch": int(free // act) if act else None,
            "step_ms_lower_bound_batch_1": round(1000 * m["flops_per_step"] / T4_FP16_FLOPS, 1)}
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="smol", choices=["lite", "smol", "qwen", "paper"])
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--tokens", default="450,1024", help="comma-separated sample lengths (images included)")
    p.add_argument("--steps", type=int, default=3, help="measured steps per length, after one warm-up step")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    lengths = [int(x) for x in args.tokens.split(",") if x.strip()]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
    model = build_model(args.preset, device, args.seed, args.dtype)
    model.train()
    counts = {k: int(v) for k, v in model.parameter_counts().items()}
    rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB
    log(f"[{args.preset}] {model.precision.describe()}; {sum(counts[k] for k in ('vision', 'lm')):,} frozen parameters")
    measured = {}
    for tokens in lengths:
        if tokens > model.config.max_length:
            p.error(f"--tokens {tokens} is longer than the preset's max_length {model.config.max_length}")
        measured[tokens] = measure(model, tokens, args.steps, args.seed)
    bytes_per = torch.finfo(model.precision.weights).bits // 8
    report = {
        "benchmark": f"{args.preset} stage-2 training step at batch 1: memory and time",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or platform.machine()})",
        "threads": torch.get_num_threads(), "load_average_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__, "precision": model.precision.as_dict(),
        "parameters": counts,
        "parameter_gib": {k: round(counts[k] * bytes_per / GIB, 3) for k in ("vision", "lm")},
        "rss_gib": {"before_model": round(rss_before, 2), "with_model": round(rss_model, 2)},
        "steps": args.steps, "results": {str(k): v for k, v in measured.items()},
        "t4": t4_estimate(counts, measured, model.precision.weights, model.precision.compute),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
