"""Pieces every training loop here shares: LR schedule, the optimizer step, logging with throughput
and MFU, step budgets from a time limit, resumable checkpoints, and the history of runs a model
carries (device and precision: `sparkles_lite.device`)."""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sparkles_lite.device import cpu_has_fast_bf16, cpu_supports


def pad_multiple(device: torch.device) -> int:
    """What training rounds batch lengths up to (`collate(pad_to_multiple=)`): 64 on a GPU, where each
    new batch shape costs a kernel search and fresh memory blocks; 1 on a CPU, where it costs nothing."""
    return 64 if device.type == "cuda" else 1


def cosine_lr(progress: float, base: float, warmup: float = 0.05) -> float:
    """Warm up linearly, then cosine down to 10% of `base`; `progress` runs from 0 to 1."""
    if progress < warmup:
        return base * (progress + 1e-3) / warmup
    t = min(1.0, (progress - warmup) / (1 - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def clip_and_step(opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler, params: list, max_norm: float = 1.0) -> None:
    """The end of every training step: unscale the gradients (fp16), clip their norm, step, update the scaler."""
    scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    scaler.step(opt)
    scaler.update()


def peak_flops(device: torch.device) -> float:
    """Rough dense peak for MFU: H100 bf16 989 TFLOP/s, A100 312, T4 65 (fp16). CPU, per thread:
    0.1 TFLOP/s fp32 (AVX-512 FMA), 2 with bf16 on AMX tiles (what autocast uses there)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, flops in (("H100", 989e12), ("H200", 989e12), ("A100", 312e12), ("L4", 121e12),
                           ("T4", 65e12), ("A10", 125e12)):
            if key in name:
                return flops
        return 100e12
    amx = cpu_has_fast_bf16() and cpu_supports("amx_tile")
    return (2e12 if amx else 0.1e12) * max(1, torch.get_num_threads())


def flops_per_token(n_params: int, n_trainable: int) -> float:
    """Forward 2N, backward through activations 2N, weight gradients 2 x trainable."""
    return 4 * n_params + 2 * n_trainable


@dataclass
class TrainLog:
    """nanoGPT-style progress line: loss, ms/step, samples/s, tokens/s, MFU; kept for plots."""

    flops_per_token: float
    peak: float
    history: list[dict] = field(default_factory=list)
    _t: float = field(default_factory=time.perf_counter)
    _samples: int = 0
    _tokens: int = 0
    _steps: int = 0

    def add(self, samples: int, tokens: int) -> None:
        self._samples += samples
        self._tokens += tokens
        self._steps += 1

    def emit(self, step: int, loss: float, lr: float) -> dict:
        dt = max(1e-9, time.perf_counter() - self._t)
        row = {"step": step, "loss": round(loss, 4), "lr": lr,
               "ms_per_step": round(1000 * dt / max(1, self._steps), 1),
               "samples_per_s": round(self._samples / dt, 1), "tokens_per_s": round(self._tokens / dt),
               "mfu": round(self._tokens * self.flops_per_token / dt / self.peak, 4)}
        self.history.append(row)
        self._t, self._samples, self._tokens, self._steps = time.perf_counter(), 0, 0, 0
        return row


@dataclass
class StepBudget:
    """Train for `max_steps` or `minutes`, whichever ends first. Progress (which drives the
    learning-rate schedule) is the larger of the two fractions, so a time-limited run still
    completes its schedule however fast the data arrives."""

    max_steps: int
    minutes: float | None
    start_step: int = 0
    _start: float = field(default_factory=time.perf_counter)

    def progress(self, step: int) -> float:
        by_steps = step / max(1, self.max_steps)
        if self.minutes is None:
            return by_steps
        by_time = (self.start_step / max(1, self.max_steps)
                   + (time.perf_counter() - self._start) / (self.minutes * 60))
        return min(1.0, max(by_steps, by_time))

    def done(self, step: int) -> bool:
        return step >= self.max_steps or self.progress(step) >= 1.0


CHECKPOINT_FORMAT = "sparkles-lite checkpoint 1"
LEGACY_CHECKPOINTS = ("checkpoint.pt",)  # pickles written by older versions: never opened


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or written; the message names the file."""


def save_checkpoint(path: Path, **state) -> None:
    """Save nested training state (dicts, lists, numbers, strings, tensors) without pickle: the tensors
    in a safetensors file, the rest as JSON in its header, so opening a checkpoint can never run code.

    Atomic (`data.io.write_bytes_atomic`): a failed write, a full disk say, keeps the previous checkpoint
    and leaves no temporary file; it raises CheckpointError naming the file and the reason."""
    from safetensors.torch import save

    from sparkles_lite.data.io import write_bytes_atomic

    tensors: dict[str, torch.Tensor] = {}
    header = {"format": CHECKPOINT_FORMAT, "state": json.dumps(_to_json(state, tensors, "state"))}
    try:
        write_bytes_atomic(path, save(tensors, metadata=header))
    except OSError as e:
        raise CheckpointError(f"cannot write the checkpoint {path} ({e.strerror or e}); "
                              "the previous checkpoint is kept") from e


def load_checkpoint(path: Path) -> dict | None:
    """What `save_checkpoint` saved (None when there is no file); CheckpointError for anything else."""
    from safetensors import safe_open

    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as e:  # noqa: BLE001 - safetensors' own error type is not exported stably
        raise CheckpointError(f"{path} is not a sparkles-lite checkpoint ({type(e).__name__}: {e})") from None
    if header.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a sparkles-lite checkpoint")
    return _from_json(json.loads(header["state"]), tensors)


def _to_json(value, tensors: dict[str, torch.Tensor], name: str):
    """`value` as JSON, each tensor moved into `tensors` under its path and left as {"tensor": path}."""
    if isinstance(value, torch.Tensor):
        tensors[name] = value.detach().cpu().contiguous().clone()
        return {"tensor": name}
    if isinstance(value, dict):  # keys kept with their type: an optimizer's state is keyed by int
        return {"items": [[k, _to_json(v, tensors, f"{name}.{k}")] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, tensors, f"{name}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a checkpoint holds tensors, numbers, strings, lists and dicts; {name} is {type(value).__name__}")


def _from_json(value, tensors: dict[str, torch.Tensor]):
    if isinstance(value, dict):
        if "tensor" in value:
            return tensors[value["tensor"]]
        return {k: _from_json(v, tensors) for k, v in value["items"]}
    if isinstance(value, list):
        return [_from_json(v, tensors) for v in value]
    return value


def runs_behind(metrics_file: Path | None, omit: tuple[str, ...] = ("earlier_runs",)) -> list[dict]:
    """The runs that made a model, oldest first, read from the metrics file saved beside its weights: the
    runs it carried (`earlier_runs`), then its own (`omit`: keys left out, e.g. per-step logs). A continued
    run keeps the whole history, so a model card can list every run; [] without the file."""
    if metrics_file is None or not metrics_file.exists():
        return []
    metrics = json.loads(metrics_file.read_text())
    return metrics.get("earlier_runs", []) + [{k: v for k, v in metrics.items() if k not in omit}]


def set_threads() -> None:
    """On a shared 2-core machine one busy core halves two-thread speed; honour an explicit setting."""
    if "OMP_NUM_THREADS" not in os.environ and not torch.cuda.is_available():
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def shuffle_rng(seed: int, step: int = 0) -> random.Random:
    """The batch-order generator of a run with this seed, starting (or resuming) at `step`: one place
    decides it, so a loop written elsewhere (notebook 05) can draw the very batches `finetune` draws."""
    return random.Random(seed * 7919 + step)


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random, group: int = 50) -> list[list[int]]:
    """Shuffle, then sort within mega-batches of `group` batches: similar lengths share a batch
    (little padding) while the order stays random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for start in range(0, len(order), batch_size * group):
        chunk = sorted(order[start:start + batch_size * group], key=lambda i: lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
