#!/usr/bin/env python
"""Lite LM pretraining throughput: random batches against the package's stream, in the same run.

    python benchmarks/pretrain_throughput.py                  # CPU or GPU, batch 128, 10 timed steps per loop
    python benchmarks/pretrain_throughput.py --compile        # also the torch.compile'd model

The same pretraining texts (`pretrain.lm_texts`: the LM_MIXTURE of lite tasks, slot words where
images go), the same randomly initialised lite LM (nothing is downloaded), AdamW, autocast as
`train.common` picks it (bf16 on CPUs and GPUs that have it). Loops:

* **random**: batches in draw order, each padded to its longest member (a plain DataLoader + collate);
* **grouped**: what `pretrain --part lm` does: LENGTH_GROUP batches drawn at once, similar lengths
  together (`length_grouped_batches`);
* **grouped_compiled** (with `--compile`): as grouped, the model under `torch.compile(dynamic=True)`,
  as `pretrain --compile` does. Its compile time is reported, not charged to the timed steps.

Each loop runs `--warmup` untimed steps, then `--steps` timed ones. Prints one JSON object:
per loop sequences/s, tokens/s (non-padding tokens), padding fraction, seconds; the ratios of
sequences/s against `random`.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparkles_lite import assets  # noqa: E402
from sparkles_lite.config import preset  # noqa: E402
from sparkles_lite.device import choose_precision, pick_device  # noqa: E402
from sparkles_lite.lite.pretrain import LENGTH_GROUP, lm_loss, lm_texts  # noqa: E402
from sparkles_lite.lite.tasks import LiteGenerator  # noqa: E402
from sparkles_lite.model.assembly import collate, round_up  # noqa: E402
from sparkles_lite.model.language import build_lite_lm  # noqa: E402
from sparkles_lite.model.tokenizer import load_tokenizer  # noqa: E402
from sparkles_lite.train import common  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_batches(texts, batch_size: int, grouped: bool, pad_id: int, seed: int) -> list:
    if grouped:
        groups = common.length_grouped_batches([len(t.input_ids) for t in texts], batch_size,
                                               random.Random(seed), group=LENGTH_GROUP)
    else:
        groups = [list(range(i, i + batch_size)) for i in range(0, len(texts), batch_size)]
    return [collate([texts[i] for i in g], pad_id) for g in groups if len(g) == batch_size]


def time_loop(lm, batches: list, device: torch.device, warmup: int, compiled: bool) -> dict:
    forward = torch.compile(lm, dynamic=True) if compiled else lm
    opt = torch.optim.AdamW(lm.parameters(), lr=1e-3)

    def step(b) -> None:
        ids, mask, labels = b.input_ids.to(device), b.attention_mask.to(device), b.labels.to(device)
        with choose_precision(device).autocast():
            logits = forward(input_ids=ids, attention_mask=mask).logits
        loss, _ = lm_loss(logits, ids, labels, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    start = time.perf_counter()
    for b in batches[:warmup]:
        step(b)
    warmup_s = time.perf_counter() - start
    timed = batches[warmup:]
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for b in timed:
        step(b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    real = sum(int(b.attention_mask.sum()) for b in timed)
    positions = sum(b.attention_mask.numel() for b in timed)
    sequences = sum(b.input_ids.shape[0] for b in timed)
    return {"steps": len(timed), "seconds": round(seconds, 3), "warmup_s": round(warmup_s, 2),
            "sequences_per_s": round(sequences / seconds, 2), "tokens_per_s": round(real / seconds, 1),
            "padding_fraction": round(1 - real / positions, 4)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="timed steps per loop")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per loop (compiled: at least 6)")
    p.add_argument("--compile", action="store_true", help="also time the torch.compile'd model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    common.set_threads()
    device = pick_device(args.device)
    tokenizer = load_tokenizer(assets.LITE_LM)
    loops = {"random": (False, False), "grouped": (True, False)}
    if args.compile:
        loops["grouped_compiled"] = (True, True)
    n_batches = max(args.warmup, 6 if args.compile else 0) + args.steps
    n_texts = round_up(n_batches, LENGTH_GROUP) * args.batch_size  # whole length groups
    texts = lm_texts(LiteGenerator(args.seed), tokenizer, n_texts, preset("lite").max_length)
    torch.manual_seed(args.seed)
    initial = build_lite_lm(preset("lite").lm, vocab_size=len(tokenizer)).to(device).train()
    report = {"benchmark": "lite LM pretraining throughput, random vs length-grouped batches",
              "device": torch.cuda.get_device_name(device) if device.type == "cuda"
              else f"cpu ({platform.processor() or platform.machine()})",
              "threads": torch.get_num_threads(), "torch": torch.__version__, "batch_size": args.batch_size,
              "mean_tokens_per_text": round(sum(len(t.input_ids) for t in texts) / len(texts), 1), "loops": {}}
    for name, (grouped, compiled) in loops.items():
        warmup = max(args.warmup, 6) if compiled else args.warmup
        batches = make_batches(texts, args.batch_size, grouped, tokenizer.pad_token_id, args.seed)
        batches = batches[:warmup + args.steps]
        log(f"{name}: {warmup} warm-up + {len(batches) - warmup} timed steps")
        report["loops"][name] = time_loop(copy.deepcopy(initial), batches, device, warmup, compiled)
    base = report["loops"]["random"]["sequences_per_s"]
    report["ratios_over_random"] = {name: round(r["sequences_per_s"] / base, 2)
                                    for name, r in report["loops"].items() if name != "random"}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
