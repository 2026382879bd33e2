"""Pieces every training loop here shares: device and precision, LR schedule, logging with
throughput and MFU, step budgets from a time limit, and resumable checkpoints."""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch


def pick_device(name: str = "auto") -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast where the GPU supports it, fp16 otherwise (use `grad_scaler`); fp32 on CPU."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def grad_scaler(device: torch.device) -> torch.amp.GradScaler:
    """Enabled only for fp16 (e.g. a T4, which has no bf16): bf16 and fp32 need no scaling."""
    enabled = device.type == "cuda" and not torch.cuda.is_bf16_supported()
    return torch.amp.GradScaler("cuda", enabled=enabled)


def cosine_lr(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def peak_flops(device: torch.device) -> float:
    """Rough dense peak for MFU: H100 bf16 989 TFLOP/s, A100 312, T4 65 (fp16); CPU ~0.2 (2 cores)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, flops in (("H100", 989e12), ("H200", 989e12), ("A100", 312e12), ("L4", 121e12),
                           ("T4", 65e12), ("A10", 125e12)):
            if key in name:
                return flops
        return 100e12
    return 0.1e12 * max(1, torch.get_num_threads())


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
    """How many steps to run: `max_steps`, shortened to fit `minutes` once the speed is known.

    Speed is measured over steps 5-25 of this run, after data workers and kernels have warmed up,
    so start-up cost does not shrink the schedule.
    """

    max_steps: int
    minutes: float | None
    _start: float = field(default_factory=time.perf_counter)
    _probe_start: float | None = None

    def total(self, step: int, first_step: int, current_total: int) -> int:
        if self.minutes is None:
            return current_total
        if step - first_step == 5:
            self._probe_start = time.perf_counter()
        if step - first_step != 25 or self._probe_start is None:
            return current_total
        now = time.perf_counter()
        per_step = (now - self._probe_start) / 20
        remaining = self.minutes * 60 - (now - self._start)
        return max(step + 1, min(current_total, step + int(remaining / per_step)))

    def out_of_time(self) -> bool:
        return self.minutes is not None and time.perf_counter() - self._start > self.minutes * 60 * 1.05


def save_checkpoint(path: Path, **state) -> None:
    """Atomic: a run killed mid-write keeps the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None


def set_threads() -> None:
    """On a shared 2-core machine one busy core halves two-thread speed; honour an explicit setting."""
    if "OMP_NUM_THREADS" not in os.environ and not torch.cuda.is_available():
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
