"""Stage 1 (MiniGPT-4) and stage 2 (SparklesChat): `python -m sparkles_lite train --stage 1|2`.

Only the projection (and the pooling queries) train; vision tower and LM stay frozen. Stage 1
learns from single-image captions, stage 2 from multi-image 2-turn dialogues with 1-4 images per
turn. The loop receives what it learns from: real data (dialogue files, the paper's per-turn files,
or folders of them: `train.data.file_items`) or the lite world's examples (`sparkles_lite.lite.training`);
`train.cli` chooses. BISON- and NLVR2-style prompts never appear in either: they are held-out evaluations.

A conversation longer than the model's max_length loses its earliest turns (with their images); one
whose last turn alone is too long is skipped. Both are counted and named in the log and the metrics.

Speed, as a reader of the loop can see: frozen vision features are computed once per image and
cached; batches are grouped by length and padded only to their longest member; bf16 on GPUs
with native bf16, fp16 + GradScaler on older ones (`sparkles_lite.device.choose_precision`); gradient
accumulation; `torchrun --nproc-per-node N` averages gradients across processes (gloo on CPU, nccl on
GPU), every process in every step, even one whose share of a small last batch is empty.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from PIL import Image
from tqdm.auto import tqdm

from sparkles_lite.assets import resolve_model
from sparkles_lite.data.io import DataFormatError, write_json_atomic
from sparkles_lite.data.schema import forged_turn
from sparkles_lite.device import add_device_arguments, pick_device
from sparkles_lite.model.assembly import Assembled, AssemblyError, collate
from sparkles_lite.model.lora import add_lora
from sparkles_lite.model.sparkles_chat import CONFIG_FILE, WEIGHTS_FILE, SparklesChat
from sparkles_lite.run_folder import bind_folder, file_identity, model_identity
from sparkles_lite.train import common
from sparkles_lite.train.data import TrainItem, data_files, file_items, file_weighted_batches, hold_out, parse_turn_ratio

LOGGED_ITEMS = 10  # truncated / skipped items named one per line in the log (all of them in the metrics)

# Conversations to learn from and how to open an image by its key.
TrainData = tuple[list[TrainItem], Callable[[object], Image.Image]]
# A measure taken before and after training (e.g. the lite select accuracy): model -> {name: value}.
Evaluate = Callable[[SparklesChat], dict[str, float]]


def file_data(args: argparse.Namespace) -> tuple[TrainData, TrainData]:
    """(train, held out) from the files of `args.data` (`train.data.file_items`, images from
    `args.images`); the held-out items are whole dialogues (`hold_out`, `args.n_val`). Read and checked
    before any model loads, so a bad file fails in a second."""
    paths = [args.data] if isinstance(args.data, (str, Path)) else list(args.data)
    items, load = file_items(paths, args.images, split_turns=args.split_turns)
    train_items, val_items = hold_out(items, args.n_val)
    return (train_items, load), (val_items, load)


def assemble_items(model: SparklesChat, items: list[TrainItem]) -> tuple[list[Assembled], list[list], dict]:
    """Assemble every item: (kept assemblies, their image keys, a report of what length changed).

    Dropped turns take their images along (the keys of the first `dropped_images` go), so the batch
    always holds one image per placeholder left; an item whose last turn alone is too long is skipped."""
    assembled, keys, truncated, skipped = [], [], [], []
    for it in items:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # reported below, per item, instead
                a = model.assemble(it.messages, supervise=it.supervise)
        except AssemblyError as e:
            skipped.append({"item": it.source, "reason": str(e)})
            continue
        if a.dropped_messages:
            turns = [k // 2 + 1 for k in a.dropped_messages[::2]]
            truncated.append({"item": it.source, "dropped_turns": turns, "dropped_images": a.dropped_images})
        assembled.append(a)
        keys.append(it.image_keys[a.dropped_images:])
    return assembled, keys, {"items": len(items), "kept": len(assembled), "truncated": truncated, "skipped": skipped}


def report_length(report: dict, max_length: int, name: str) -> None:
    """One line per changed item (the first LOGGED_ITEMS), so a long-data run says what it lost."""
    for key, what in (("truncated", "earlier turns dropped to fit"), ("skipped", "skipped: too long even alone")):
        rows = report[key]
        if not rows:
            continue
        print(f"{name}: {len(rows)} of {report['items']} item(s) longer than max_length={max_length}, {what}",
              flush=True)
        for row in rows[:LOGGED_ITEMS]:
            if key == "truncated":
                turns = ", ".join(map(str, row["dropped_turns"]))
                print(f"  {row['item']}: dropped turn(s) {turns} ({row['dropped_images']} image(s) with them)",
                      flush=True)
            else:
                print(f"  {row['item']}: {row['reason']}", flush=True)
        if len(rows) > LOGGED_ITEMS:
            print(f"  ... and {len(rows) - LOGGED_ITEMS} more (all listed in train_metrics.json)", flush=True)


class FeatureCache:
    """Frozen vision features, computed once per distinct image and kept on the device."""

    def __init__(self, model: SparklesChat, keys: list, load: Callable, batch_size: int = 256, desc: str = "",
                 quiet: bool = False):
        self.row = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        chunks = []
        ordered = list(self.row)
        for start in tqdm(range(0, len(ordered), batch_size), desc=f"vision features {desc}", leave=False,
                          disable=quiet):
            images = [load(k) for k in ordered[start:start + batch_size]]
            with torch.no_grad(), model.precision.autocast():
                chunks.append(model.patch_features(model.preprocess(images)))
        self.features = torch.cat(chunks) if chunks else None

    def __call__(self, keys: list) -> torch.Tensor:
        return self.features[[self.row[k] for k in keys]]


def batch_loss(model: SparklesChat, assembled: list[Assembled], keys: list[list], cache: FeatureCache) -> torch.Tensor:
    batch = collate(assembled, model.pad_id, pad_to_multiple=common.pad_multiple(model.device)).to(model.device)
    flat = [k for ks in keys for k in ks]
    with model.precision.autocast():
        tokens = model.image_tokens(cache(flat)) if flat else model.encode_images([])
        return model.loss(batch, tokens)


@torch.no_grad()
def heldout_loss(model: SparklesChat, assembled: list[Assembled], keys: list[list], cache: FeatureCache,
                 batch_size: int = 64) -> float | None:
    """Mean loss over held-out items (None when there are none)."""
    was_training = model.training
    model.eval()
    losses = [batch_loss(model, assembled[i:i + batch_size], keys[i:i + batch_size], cache).item()
              for i in range(0, len(assembled), batch_size)]
    model.train(was_training)
    return sum(losses) / len(losses) if losses else None


def batch_stream(items: list[TrainItem], lengths: list[int], args: argparse.Namespace, world_size: int,
                 rng: random.Random) -> Iterator[list[int]]:
    """Endless batches of item indices: length-grouped passes over the data, or with --turn-ratio the
    paper's draw (one file per batch, weighted by its turn)."""
    size = args.batch_size * world_size
    if args.turn_ratio:
        yield from file_weighted_batches(items, parse_turn_ratio(args.turn_ratio), size, rng)
    while True:
        yield from common.length_grouped_batches(lengths, size, rng)


SUMMARY_OMITS = ("history", "earlier_runs", "length_changes")  # per-step logs, older runs, per-item lists
METRICS_FILE = "train_metrics.json"  # beside the saved model
CHECKPOINT = "checkpoint.safetensors"
RUN_FILES = (CHECKPOINT, *common.LEGACY_CHECKPOINTS, WEIGHTS_FILE, CONFIG_FILE, METRICS_FILE)  # what a run writes


def run_identity(args: argparse.Namespace, model: SparklesChat) -> dict:
    """What makes a training run, as its folder records it (`run_folder`): a rerun into the folder with
    another stage, init, data or trainable shape is refused, since resuming it would mix two runs."""
    if args.data:
        paths = [args.data] if isinstance(args.data, (str, Path)) else list(args.data)
        data = {"files": [file_identity(p, args.out) for p in data_files(paths)],
                "images": str(Path(args.images).resolve()) if args.images else None,
                "split_turns": args.split_turns, "turn_ratio": args.turn_ratio}
    else:
        data = {"lite": {"n_train": args.n_train, "seed": args.seed}}
    return {"stage": args.stage, "init": model_identity(args.init or args.preset), "data": data,
            "trainable": {name: list(p.shape) for name, p in model.trainable_state_dict().items()}}


def check_turns(items: list[TrainItem], model: SparklesChat) -> None:
    """Training text must not hold the conversation format's turn markers (`###`, the LM's special
    tokens): the model would learn turns its data never had. ValueError naming the first such message
    (by its item's source: 'FILE: item 3')."""
    special = model.tokenizer.all_special_tokens
    for k, item in enumerate(items):
        for j, m in enumerate(item.messages):
            forged = forged_turn(m.content, special)
            if forged:
                raise ValueError(f"{item.source or f'item {k}'}, message {j}: {forged}")


def runs_behind(init: str | None) -> list[dict]:
    """The training runs that made `init` (a shipped name or a run folder), oldest first, read from its
    train_metrics.json: a continued run keeps the model's whole history, so its card lists every run."""
    path = resolve_model(init) if init else None
    return common.runs_behind(path / METRICS_FILE if path else None, omit=SUMMARY_OMITS)


def format_measures(measures: dict[str, float | None]) -> str:
    """'held-out loss 2.159, select accuracy 23.0%' for a reader, from {'heldout_loss': ..., ...}."""
    parts = []
    for key, value in measures.items():
        name = key.replace("heldout_", "held-out ").replace("_", " ")
        shown = "not measured" if value is None else f"{100 * value:.1f}%" if key.endswith("accuracy") else f"{value:.3f}"
        parts.append(f"{name} {shown}")
    return ", ".join(parts)


def finetune(args: argparse.Namespace, train: TrainData, val: TrainData, evaluate: Evaluate | None = None) -> dict:
    """Train the projection on `train` with the options in `args` (`finetune_args`) into `args.out`;
    held-out loss on `val` and `evaluate` before and after; resumable; the same under torchrun.

    Under torchrun every process takes its share of each global batch (`batch_size` per process) and
    joins every all-reduce, with a zero gradient when its share is empty (a small last batch, or fewer
    examples than processes): a process that skipped one would leave the others waiting for ever.
    Rank 0 decides the learning rate and when to stop, logs, and writes checkpoints and the model."""
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = pick_device(args.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if distributed else 0
    world_size = dist.get_world_size() if distributed else 1
    lead = rank == 0
    torch.manual_seed(args.seed)
    (items, load), (val_items, val_load) = train, val
    data_paths = None if not args.data else [args.data] if isinstance(args.data, (str, Path)) else list(args.data)
    model = SparklesChat.from_pretrained(args.init or args.preset, device=device, dtype=args.dtype)
    if args.lora and not model.config.lora.enabled:
        add_lora(model.lm, model.config.lora)
        model.config.lora.enabled = True
        model.freeze_backbones()
        model.to(device)
    model.train()
    counts = model.parameter_counts()
    params = [p for p in model.parameters() if p.requires_grad]
    if distributed:  # the same starting point on every process, whatever each one's random state
        for p in params:
            dist.broadcast(p.data, src=0)
    if lead:
        print(model.precision.describe(), flush=True)
        print(f"trainable parameters: {counts['trainable']:,} of {sum(v for k, v in counts.items() if k != 'trainable'):,}"
              f" (vision {counts['vision']:,} frozen, LM {counts['lm']:,} frozen)", flush=True)
    out = Path(args.out)
    ckpt_path = out / CHECKPOINT
    if rank == 0:  # before any work: a folder of another run is refused, `--overwrite` empties it
        bind_folder(out, run_identity(args, model), owned=RUN_FILES, overwrite=not args.resume)
    if distributed:
        dist.barrier()

    quiet = args.quiet or not lead
    check_turns(items + val_items, model)
    assembled, keys, length_report = assemble_items(model, items)
    val_assembled, val_keys, val_report = assemble_items(model, val_items)
    if lead:
        report_length(length_report, model.config.max_length, "training data")
        report_length(val_report, model.config.max_length, "held-out data")
    if not assembled:
        raise DataFormatError(f"no training item fits max_length={model.config.max_length} "
                              f"({len(items)} given, {len(length_report['skipped'])} too long)")
    items = [it for it in items if it.source not in {r["item"] for r in length_report["skipped"]}]
    if lead and not val_assembled:
        print("held-out loss: not measured (too few items to hold any out)", flush=True)
    cache = FeatureCache(model, [k for ks in keys for k in ks], load, desc="train", quiet=quiet)
    val_keys = [[("val", k) for k in ks] for ks in val_keys]
    val_cache = FeatureCache(model, [k for ks in val_keys for k in ks], lambda k: val_load(k[1]), desc="val",
                             quiet=quiet)

    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    scaler = model.precision.grad_scaler()
    step, total = 0, args.max_steps
    state = common.load_checkpoint(ckpt_path)
    if state:
        model.load_state_dict(state["trainable"], strict=False)  # the names and shapes are the run's (run.json)
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        if lead:
            print(f"resumed at step {step}/{total}", flush=True)

    def measure() -> dict:
        """Held-out loss (and `evaluate`'s measures), on rank 0 only: the others would repeat its work."""
        if not lead:
            return {}
        return {"heldout_loss": heldout_loss(model, val_assembled, val_keys, val_cache),
                **(evaluate(model) if evaluate else {})}

    before = measure()
    if lead:
        print(f"before: {format_measures(before)}", flush=True)

    # Per token the LM and the per-image-token layers run; the vision tower's features come from the cache.
    log = common.TrainLog(common.flops_per_token(sum(counts[k] for k in ("pooling", "projection", "lm")),
                                                 counts["trainable"]), common.peak_flops(device) * world_size)
    budget = common.StepBudget(total, args.minutes, start_step=step)
    rng = common.shuffle_rng(args.seed, step)
    history, started = [], time.time()
    bar = tqdm(total=total, initial=step, desc=f"stage {args.stage}", disable=quiet)
    lengths = [len(a) for a in assembled]

    def lead_decides() -> tuple[float, bool]:
        """(learning rate, stop now): rank 0's clock decides, so all processes stop at the same step."""
        decision = torch.tensor([common.cosine_lr(budget.progress(step), args.lr), float(budget.done(step))],
                                dtype=torch.float64, device=device)
        if distributed:
            dist.broadcast(decision, src=0)
        return decision[0].item(), bool(decision[1].item())

    for batch_ids in batch_stream(items, lengths, args, world_size, rng):
        lr, finished = lead_decides()
        if finished:
            break
        mine = batch_ids[rank::world_size]
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        # Each micro-batch's mean loss weighted by its share of the global batch: the all-reduced sum
        # of gradients is then the gradient of the global batch's mean, however unevenly it split.
        loss_sum = torch.zeros((), device=device)
        for part in (mine[i::args.grad_accum] for i in range(args.grad_accum)):
            if not part:
                continue
            loss = batch_loss(model, [assembled[i] for i in part], [keys[i] for i in part], cache)
            weight = len(part) / len(batch_ids)
            scaler.scale(loss * weight).backward()
            loss_sum += loss.detach().float() * weight
        if distributed:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad)
            dist.all_reduce(loss_sum)
        common.clip_and_step(opt, scaler, params)
        step += 1
        bar.update(1)
        log.add(len(batch_ids), sum(lengths[i] for i in batch_ids))
        if step % args.log_every == 0 and lead:
            row = log.emit(step, loss_sum.item(), lr)
            history.append(row)
            bar.set_postfix(loss=row["loss"], ms=row["ms_per_step"])
            if args.quiet and args.log_lines:
                print(json.dumps(row), flush=True)
        if args.checkpoint_every and step % args.checkpoint_every == 0 and lead:
            common.save_checkpoint(ckpt_path, trainable=model.trainable_state_dict(),
                                   optimizer=opt.state_dict(), step=step, total=total)
    bar.close()
    after = measure()
    data = {"files": [str(p) for p in data_paths] if data_paths else None, "n_heldout": len(val_assembled),
            "turn_ratio": args.turn_ratio, "split_turns": args.split_turns, "max_length": model.config.max_length,
            "n_truncated": len(length_report["truncated"]), "n_skipped": len(length_report["skipped"])}
    result = {"stage": args.stage, "steps": step, "total_steps": total, "batch_size": args.batch_size,
              "world_size": world_size, "n_train": len(assembled), "data": data,
              "length_changes": {k: length_report[k] for k in ("truncated", "skipped")},
              "minutes": round((time.time() - started) / 60, 2), "before": before, "after": after,
              "trainable_parameters": counts["trainable"], "init": args.init or args.preset,
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
              "precision": model.precision.as_dict(), "history": history,
              "command": getattr(args, "command", None), "earlier_runs": runs_behind(args.init)}
    if lead:
        print(f"after: {format_measures(after)}", flush=True)
        common.save_checkpoint(ckpt_path, trainable=model.trainable_state_dict(), optimizer=opt.state_dict(),
                               step=step, total=total)
        model.save_pretrained(out, extra={"training": {k: v for k, v in result.items() if k not in SUMMARY_OMITS}})
        write_json_atomic(out / METRICS_FILE, result)
    if distributed:
        dist.barrier()  # nobody leaves (and nobody reads the folder) before rank 0 has written it
        dist.destroy_process_group()
    return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="lite", help="lite, smol, qwen (backbones) when --init is not given")
    p.add_argument("--init", default=None, help="start from a saved model (dir or name, e.g. minigpt4-lite)")
    p.add_argument("--stage", type=int, choices=[1, 2], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--data", nargs="+", default=None, metavar="PATH",
                   help="dialogue or per-turn files, or folders of per-turn files (*_turn1_2img.json ...); "
                        "default: lite data")
    p.add_argument("--images", default=None, help="image folder for --data (default: images/ beside the "
                                                  "annotations/ folder of each file, else beside the file)")
    p.add_argument("--split-turns", action="store_true",
                   help="train dialogue files as per-turn items, loss on each item's last answer (as the paper)")
    p.add_argument("--turn-ratio", default=None, metavar="T1:T2",
                   help="draw each batch from one per-turn file, weighted by its turn; the paper: 2:1")
    p.add_argument("--n-train", type=int, default=8000, help="lite examples to generate")
    p.add_argument("--n-val", type=int, default=128, help="held-out examples for the before/after loss "
                                                          "(with --data: the file's last N, not trained on)")
    p.add_argument("--max-steps", type=int, default=1500)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lora", action="store_true", help="also train LoRA adapters on the LM's attention")
    add_device_arguments(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-n", type=int, default=100, help="select-task items before/after (0 = skip)")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--overwrite", "--no-resume", dest="resume", action="store_false",
                   help="start OUT afresh from --init (its checkpoint and model are removed first); without it a "
                        "run resumes OUT's checkpoint, and OUT holding another run exits 2")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--log-lines", action=argparse.BooleanOptionalAction, default=True,
                   help="with --quiet, print one JSON line per log interval")


def finetune_args(**overrides) -> argparse.Namespace:
    """The CLI's defaults as a Namespace, for calling `finetune` from Python or a notebook."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--stage", str(overrides.pop("stage", 2)), "--out", str(overrides.pop("out", "runs/finetune"))])
    for key, value in overrides.items():
        if not hasattr(args, key):
            raise TypeError(f"unknown training option {key!r}")
        setattr(args, key, value)
    return args
