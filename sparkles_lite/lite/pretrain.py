"""Pretrain the lite backbones: `python -m sparkles_lite pretrain --part vision|lm`.

A frozen LM can only lend the reasoning it already has, so before any projection is trained the
lite LM learns the lite tasks from text (scene words where images go), and the lite ViT learns
to see the scene facts. Data is generated on the fly by worker processes, so a run never sees
the same example twice; a killed run resumes from its last checkpoint with fresh data.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, get_worker_info
from tqdm.auto import tqdm
from transformers.utils import logging as hf_logging

from sparkles_lite.config import PoolingConfig, preset
from sparkles_lite.data.io import write_json_atomic
from sparkles_lite.data.schema import SEP
from sparkles_lite.device import choose_precision, pick_device
from sparkles_lite.lite import world
from sparkles_lite.lite.eval import EVAL_TASKS, evaluate
from sparkles_lite.lite.oracle import oracle_answerer
from sparkles_lite.lite.tasks import LiteGenerator, text_only
from sparkles_lite.model.assembly import IGNORE, Assembled, assemble, collate
from sparkles_lite.model.language import build_lite_lm, load_lm
from sparkles_lite.model.pooling import QueryPooling
from sparkles_lite.model.text_lm import generate_text_batch
from sparkles_lite.model.tokenizer import load_tokenizer, train_lite_tokenizer
from sparkles_lite.model.vision import LiteViT, images_to_tensor
from sparkles_lite.run_folder import bind_folder
from sparkles_lite.train import common

# LM pretraining mixture: every format the lite models are ever asked, BISON/NLVR2 included
# (the text oracle must know them; stage 2 never trains on them).
# `turn2_select` is 0 by default (a fifth of the dialogues' second turns are already select): it is
# there to weight a continuation to the shipped LM's weakest skill, e.g. --mixture turn2_select=0.35.
LM_MIXTURE = {"dialogue": 0.40, "select": 0.14, "count": 0.06, "more": 0.05, "common": 0.05,
              "describe": 0.04, "caption": 0.04, "bison": 0.08, "nlvr2": 0.14, "turn2_select": 0.0}
METRICS_FILE = "pretrain_metrics.json"  # beside exported weights
LENGTH_GROUP = 16  # LM batches drawn at once and grouped by length
PROMPT_LOSS_WEIGHT = 0.25  # answers count fully; the rest of the text a little (learns the formats)
ATTRIBUTE_VALUES = (("nothing",) + world.SIZES, ("nothing",) + tuple(world.COLOURS), ("nothing",) + world.SHAPES)


# ---------------------------------------------------------------- data

def lite_corpus(n_examples: int = 4000, seed: int = 12345) -> list[str]:
    """The lite tokenizer's training text, covering every lite word: all task formats, with images as
    slot words and as placeholders."""
    gen = LiteGenerator(seed)
    tasks = ["dialogue", "select", "count", "more", "common", "describe", "caption", "bison", "nlvr2"]
    texts = ["0 1 2 3 4 5 6 7 8 9", f"{SEP}Human: {SEP}Assistant: "]
    for i in range(n_examples):
        ex = gen.example(tasks[i % len(tasks)])
        for view in (ex.messages, text_only(ex.messages, ex.scenes)):
            texts.append(" ".join(m.content for m in view))
    return texts


class _Stream(IterableDataset):
    """Endless batches from a seeded generator; each worker and each resume gets its own seed.
    `make_batches(gen, batch_size)` returns a list of batches (several at once lets the LM stream
    group similar lengths)."""

    def __init__(self, make_batches, batch_size: int, seed: int):
        self.make_batches, self.batch_size, self.seed = make_batches, batch_size, seed

    def __iter__(self):
        info = get_worker_info()
        rng_seed = self.seed * 1000 + (info.id if info else 0)
        gen = LiteGenerator(rng_seed)
        while True:
            yield from self.make_batches(gen, self.batch_size)


def scene_targets(scene: world.Scene) -> list[int]:
    """Class index for each slot word: size, colour, shape at left, centre, right (0 = nothing)."""
    words = world.slot_words(scene)
    return [ATTRIBUTE_VALUES[i % 3].index(w) for i, w in enumerate(words)]


def vision_batch(gen: LiteGenerator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    scenes = [world.random_scene(gen.rng) for _ in range(batch_size)]
    pixels = images_to_tensor([world.render(s) for s in scenes], 64)
    return pixels, torch.tensor([scene_targets(s) for s in scenes])


def vision_batches(gen: LiteGenerator, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [vision_batch(gen, batch_size)]


def parse_mixture(text: str | None) -> dict[str, float]:
    """LM_MIXTURE with some weights replaced: "bison=0.3,dialogue=0.3" (relative weights; tasks not
    named keep theirs). For a run aimed at the tasks an LM is weakest on."""
    mixture = dict(LM_MIXTURE)
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        task, sep, value = part.partition("=")
        task = task.strip()
        if not sep or task not in LM_MIXTURE:
            raise ValueError(f"--mixture: {part!r} is not TASK=WEIGHT with TASK one of {', '.join(LM_MIXTURE)}")
        try:
            mixture[task] = float(value)
        except ValueError:
            raise ValueError(f"--mixture: the weight of {task!r} is not a number: {value!r}") from None
        if mixture[task] < 0:
            raise ValueError(f"--mixture: the weight of {task!r} is negative: {value!r}")
    if not any(mixture.values()):
        raise ValueError("--mixture: every task's weight is 0")
    return mixture


def lm_texts(gen: LiteGenerator, tokenizer, n: int, max_length: int,
             mixture: dict[str, float] | None = None) -> list[Assembled]:
    """`n` pretraining texts drawn from `mixture` (default LM_MIXTURE): lite examples with slot words
    where images go."""
    tasks, weights = zip(*(mixture or LM_MIXTURE).items())
    return [assemble(text_only(ex.messages, ex.scenes), tokenizer, 0, max_length)
            for ex in (gen.example(t) for t in gen.rng.choices(tasks, weights, k=n))]


class _LMBatcher:
    """Picklable batch maker for the LM stream (workers need to rebuild it). Draws LENGTH_GROUP
    batches' worth of examples at a time and groups similar lengths: lite texts run from ~35
    tokens (captions) to ~160 (dialogues), so random batches would be ~45% padding."""

    def __init__(self, tokenizer_dir: str, max_length: int, mixture: dict[str, float] | None = None):
        self.tokenizer_dir, self.max_length, self.mixture, self.tokenizer = tokenizer_dir, max_length, mixture, None

    def __call__(self, gen: LiteGenerator, batch_size: int) -> list[tuple[torch.Tensor, ...]]:
        if self.tokenizer is None:
            self.tokenizer = load_tokenizer(self.tokenizer_dir)
        assembled = lm_texts(gen, self.tokenizer, batch_size * LENGTH_GROUP, self.max_length, self.mixture)
        batches = []
        for ids in common.length_grouped_batches([len(a.input_ids) for a in assembled], batch_size,
                                                 gen.rng, group=LENGTH_GROUP):
            b = collate([assembled[i] for i in ids], self.tokenizer.pad_token_id)
            batches.append((b.input_ids, b.attention_mask, b.labels))
        return batches


class VisionProbe(nn.Module):
    """Pretraining head: 9 queries read the patches, each classifies one slot word."""

    def __init__(self, dim: int):
        super().__init__()
        self.pool = QueryPooling(PoolingConfig(num_tokens=world.SLOT_TOKENS_PER_IMAGE), dim)
        self.heads = nn.ModuleList(nn.Linear(dim, len(ATTRIBUTE_VALUES[i % 3]))
                                   for i in range(world.SLOT_TOKENS_PER_IMAGE))

    def forward(self, patches: torch.Tensor) -> list[torch.Tensor]:
        tokens = self.pool(patches)
        return [head(tokens[:, i]) for i, head in enumerate(self.heads)]


def lm_loss(logits: torch.Tensor, input_ids: torch.Tensor, labels: torch.Tensor,
            attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted next-token loss (answers 1, other text PROMPT_LOSS_WEIGHT) and the answer-only loss."""
    logits, targets = logits[:, :-1].float(), input_ids[:, 1:]
    is_answer = labels[:, 1:] != IGNORE
    weights = torch.where(is_answer, 1.0, PROMPT_LOSS_WEIGHT) * attention_mask[:, 1:]
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                reduction="none").view_as(targets)
    weighted = (per_token * weights).sum() / weights.sum()
    answer_only = (per_token * is_answer).sum() / is_answer.sum().clamp(min=1)
    return weighted, answer_only


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def eval_vision(vit: LiteViT, probe: VisionProbe, device: torch.device, n: int = 512) -> dict:
    """Exact-scene accuracy (all 9 slot words right) on held-out scenes."""
    gen = LiteGenerator(999_999)
    pixels, targets = vision_batch(gen, n)
    with choose_precision(device).autocast():
        logits = probe(vit(pixels.to(device)))
    pred = torch.stack([lg.argmax(-1) for lg in logits], dim=1).cpu()
    return {"scene_exact": (pred == targets).all(1).float().mean().item(),
            "slot_word_accuracy": (pred == targets).float().mean().item()}


@torch.no_grad()
def eval_lm_oracle(lm, tokenizer, n: int = 100, tasks: tuple[str, ...] | None = None) -> dict:
    """Text-oracle accuracy per task: the LM reading true scene words."""
    answerer = oracle_answerer(lambda convs: generate_text_batch(lm, tokenizer, convs))
    results = evaluate(answerer, tasks or EVAL_TASKS, n=n, batch_size=128)
    return {t: round(r["accuracy"], 4) for t, r in results.items()}


# ---------------------------------------------------------------- loops

def pretrain_vision(args: argparse.Namespace, device: torch.device) -> dict:
    cfg = preset("lite").vision
    out = Path(args.out)
    vit, probe = LiteViT(cfg).to(device), VisionProbe(cfg.dim).to(device)
    params = list(vit.parameters()) + list(probe.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr or 1e-3, weight_decay=0.05)

    def forward_loss(batch):
        pixels, targets = (t.to(device, non_blocking=True) for t in batch)
        with choose_precision(device).autocast():
            logits = probe(vit(pixels))
        loss = sum(F.cross_entropy(lg.float(), targets[:, i]) for i, lg in enumerate(logits)) / len(logits)
        return loss, pixels.shape[0], pixels.shape[0] * vit.grid ** 2

    def evaluate_now():
        vit.eval(), probe.eval()
        m = eval_vision(vit, probe, device)
        vit.train(), probe.train()
        return m

    def export():
        vit.save_pretrained(out / "vision")

    n_params = sum(p.numel() for p in params)
    return _loop(args, device, {"vit": vit, "probe": probe}, opt, params, vision_batches, forward_loss,
                 evaluate_now, export, common.flops_per_token(n_params, n_params))


def pretrain_lm(args: argparse.Namespace, device: torch.device) -> dict:
    mixture = parse_mixture(args.mixture)  # a typo fails here, before any work
    if args.init and not (Path(args.init) / "config.json").is_file():
        raise FileNotFoundError(f"--init {args.init}: not a saved LM folder (no config.json there; "
                                "`pretrain --part lm` exports one into OUT/lm)")
    cfg = preset("lite").lm
    out = Path(args.out)
    tok_dir = out / "lm"
    if args.init:  # continue from saved weights (e.g. the shipped LM) with a fresh optimizer
        load_tokenizer(args.init).save_pretrained(str(tok_dir))
    elif not (tok_dir / "tokenizer.json").exists():
        tokenizer = train_lite_tokenizer(lite_corpus())
        tokenizer.save_pretrained(str(tok_dir))
    tokenizer = load_tokenizer(tok_dir)
    if args.init:
        lm = load_lm(args.init, dtype=torch.float32).to(device)
    else:
        lm = build_lite_lm(cfg, vocab_size=len(tokenizer)).to(device)
    lm.train()
    params = list(lm.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr or 2e-3, betas=(0.9, 0.95), weight_decay=0.1)

    forward = torch.compile(lm, dynamic=True) if args.compile else lm

    def forward_loss(batch):
        input_ids, attention_mask, labels = (t.to(device, non_blocking=True) for t in batch)
        with choose_precision(device).autocast():
            logits = forward(input_ids=input_ids, attention_mask=attention_mask).logits
        loss, _ = lm_loss(logits, input_ids, labels, attention_mask)
        return loss, input_ids.shape[0], int(attention_mask.sum())

    def evaluate_now():
        lm.eval()
        m = eval_lm_oracle(lm, tokenizer, n=args.eval_n)
        lm.train()
        return m

    def export():
        lm.to(torch.float16).save_pretrained(str(out / "lm"))
        lm.float()
        tokenizer.save_pretrained(str(out / "lm"))

    n_params = sum(p.numel() for p in params)
    batcher = _LMBatcher(str(tok_dir), preset("lite").max_length, mixture)
    return _loop(args, device, {"lm": lm}, opt, params, batcher,
                 forward_loss, evaluate_now, export, common.flops_per_token(n_params, n_params))


def _loop(args, device, modules: dict[str, nn.Module], opt, params, make_batch, forward_loss, evaluate_now,
          export, flops_per_token: float) -> dict:
    """The shared loop: resume, step budget, log, periodic eval and checkpoint, export at the end."""
    out = Path(args.out)
    ckpt_path = out / f"checkpoint-{args.part}.safetensors"
    # --init only starts a run (a resumed one continues from its checkpoint, with or without it): not recorded
    identity = {"part": args.part, "mixture": parse_mixture(args.mixture) if args.part == "lm" else None,
                "seed": args.seed,
                "modules": {name: {k: list(v.shape) for k, v in m.state_dict().items()} for name, m in modules.items()}}
    bind_folder(out, identity, record=f"run-{args.part}.json", overwrite=not args.resume,
                owned=(ckpt_path.name, f"checkpoint-{args.part}.pt", f"history-{args.part}.jsonl",
                       f"metrics-{args.part}.json"))
    state = common.load_checkpoint(ckpt_path)
    step, total = 0, args.max_steps
    # a resumed run (no --init) keeps the history its first part read from --init
    earlier_runs = state.get("earlier_runs", []) if state else common.runs_behind(
        Path(args.init) / METRICS_FILE if args.init else None)
    if state:
        for name, m in modules.items():
            m.load_state_dict(state["modules"][name])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        print(f"resumed {args.part} pretraining at step {step}/{total}")
    if step >= total:
        print(f"{args.part}: already trained ({step}/{total} steps); exporting")
        export()
        return state.get("metrics", {})
    loader = DataLoader(_Stream(make_batch, args.batch_size, seed=args.seed + step), batch_size=None,
                        num_workers=args.workers, pin_memory=device.type == "cuda",
                        persistent_workers=False, prefetch_factor=4 if args.workers else None)
    scaler = choose_precision(device).grad_scaler()
    log = common.TrainLog(flops_per_token, common.peak_flops(device))
    budget = common.StepBudget(total, args.minutes, start_step=step)
    metrics, started = {}, time.time()
    history_path = out / f"history-{args.part}.jsonl"

    def checkpoint():
        common.save_checkpoint(ckpt_path, modules={n: m.state_dict() for n, m in modules.items()},
                               optimizer=opt.state_dict(), step=step, total=total, metrics=metrics,
                               earlier_runs=earlier_runs)

    bar = tqdm(total=total, initial=step, desc=f"pretrain {args.part}", disable=args.quiet)
    for batch in loader:
        if budget.done(step):
            break
        lr = common.cosine_lr(budget.progress(step), opt.defaults["lr"])
        for g in opt.param_groups:
            g["lr"] = lr
        loss, samples, tokens = forward_loss(batch)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        common.clip_and_step(opt, scaler, params)
        step += 1
        bar.update(1)
        log.add(samples, tokens)
        if step % args.log_every == 0:
            row = log.emit(step, loss.item(), lr)
            with history_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            bar.set_postfix(loss=row["loss"], ms=row["ms_per_step"])
            if args.quiet:
                print(json.dumps(row), flush=True)
        if args.eval_every and step % args.eval_every == 0 and step < total:
            metrics = evaluate_now()
            print(f"step {step}: {metrics}", flush=True)
        if args.checkpoint_every and step % args.checkpoint_every == 0:
            checkpoint()
    bar.close()
    metrics = evaluate_now()
    metrics.update(steps=step, total_steps=total, minutes=round((time.time() - started) / 60, 2),
                   batch_size=args.batch_size, device=str(torch.cuda.get_device_name(device)
                                                          if device.type == "cuda" else "cpu"),
                   command=getattr(args, "command", None))
    if step < total:
        print(f"{args.part}: time budget reached at step {step} (max {total}); rerun to continue")
    checkpoint()
    export()
    write_json_atomic(out / f"metrics-{args.part}.json", metrics)
    exported = out / args.part  # the metrics travel with the weights, with the runs behind them
    write_json_atomic(exported / METRICS_FILE, metrics | {"earlier_runs": earlier_runs})
    print(f"{args.part} pretraining: {json.dumps(metrics)}", flush=True)
    return metrics


# ---------------------------------------------------------------- CLI

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--part", choices=["vision", "lm"], required=True)
    p.add_argument("--out", default="runs/pretrain", help="run folder (checkpoints, exported weights)")
    p.add_argument("--max-steps", type=int, default=None, help="default: 3000 (vision), 6000 (lm)")
    p.add_argument("--minutes", type=float, default=None, help="stop after this long (resume continues)")
    p.add_argument("--batch-size", type=int, default=None, help="default: 256 (vision), 512 (lm)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--init", default=None, help="lm: start from saved weights (a directory) instead of random")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=2, help="data-generating processes")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument("--eval-n", type=int, default=100)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--overwrite", "--no-resume", dest="resume", action="store_false",
                   help="start this part afresh (its checkpoint, history and metrics in OUT are removed first); "
                        "without it a run resumes the part's checkpoint, and OUT holding another run of it exits 2")
    p.add_argument("--mixture", default=None, metavar="TASK=W,...",
                   help="lm: reweight the task mixture, e.g. bison=0.3,dialogue=0.3 (tasks not named keep "
                        "their LM_MIXTURE weight)")
    p.add_argument("--compile", action="store_true",
                   help="lm: torch.compile the model (about 1.3x on a CPU after a minute's warm-up)")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    common.set_threads()
    if args.quiet:
        hf_logging.disable_progress_bar()  # transformers' 'Loading weights' bar too
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    print(choose_precision(device).describe(), flush=True)
    if args.part == "vision":
        args.max_steps = args.max_steps or 3000
        args.batch_size = args.batch_size or 256
        pretrain_vision(args, device)
    else:
        args.max_steps = args.max_steps or 6000
        args.batch_size = args.batch_size or 512
        pretrain_lm(args, device)
    return 0
