"""Where models run and in what precision: one choice for training, chat, evaluation and the demo.

`pick_device` finds the device (`--device auto|cpu|cuda|mps`), `choose_precision` the dtype of the
frozen backbones and of training's autocast (`--dtype auto|fp32|bf16|fp16`), with the reason, which
every run prints and records.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def pick_device(name: str = "auto") -> torch.device:
    """`auto`: a CUDA GPU, else Apple's MPS, else the CPU. Under torchrun each process takes the GPU
    of its LOCAL_RANK. A device that is not there is an error naming it, not a silent CPU run."""
    kind, _, index = name.partition(":")
    if kind not in DEVICES or (index and not index.isdigit()):
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)} (or cuda:N)")
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: no CUDA GPU is available to this torch "
                             f"({torch.__version__}); use --device cpu")
        return torch.device("cuda", int(index or os.environ.get("LOCAL_RANK", 0)))
    if kind == "mps" and not _mps_available():
        raise ValueError(f"device {name!r}: MPS (Apple GPU) is not available here; use --device cpu")
    return torch.device(kind)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with bf16 matrix units (Intel AMX or AVX512-BF16): there bf16 autocast trains
    the lite models ~1.6x faster (measured); elsewhere bf16 is emulated and slower than fp32.
    SPARKLES_CPU_BF16=0 or 1 overrides the detection."""
    forced = os.environ.get("SPARKLES_CPU_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    return cpu_supports("amx_tile") or cpu_supports("avx512_bf16")


def cpu_supports(feature: str) -> bool:
    """torch's CPU feature probe (`torch.cpu._is_<feature>_supported`); False where torch lacks it."""
    probe = getattr(getattr(torch, "cpu", None), f"_is_{feature}_supported", None)
    return bool(probe and probe())


@dataclass(frozen=True)
class Precision:
    """What the frozen backbones are stored in, what training computes in, and why.

    `weights`: the backbones' dtype (trainable parts stay fp32: AdamW needs full-precision master
    weights). `compute`: the autocast dtype while training, None for plain fp32. `grad_scaling`: fp16
    gradients underflow without loss scaling (GradScaler); bf16 has fp32's exponent range and needs none.
    """

    device: torch.device
    weights: torch.dtype
    compute: torch.dtype | None
    grad_scaling: bool
    reason: str

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.compute is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.compute)

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.grad_scaling)

    def describe(self) -> str:
        """One line for the run log: the choice and the reason."""
        names = {v: k for k, v in DTYPES.items()}
        compute = f"{names[self.compute]} autocast" if self.compute else "no autocast"
        return (f"device {self.device}: backbones {names[self.weights]}, {compute}, GradScaler "
                f"{'on' if self.grad_scaling else 'off'} ({self.reason})")

    def as_dict(self) -> dict:
        names = {v: k for k, v in DTYPES.items()}
        return {"device": str(self.device), "weights": names[self.weights],
                "compute": names.get(self.compute, "fp32"), "grad_scaling": self.grad_scaling, "reason": self.reason}


def choose_precision(device: torch.device, dtype: str = "auto") -> Precision:
    """`auto`: bf16 only on GPUs with native bf16 (compute capability >= 8.0: A100, L4, H100); fp16 with
    loss scaling below (T4 = 7.5, V100 = 7.0), where `torch.cuda.is_bf16_supported()` can say True
    although bf16 is emulated; fp32 on the CPU and MPS (on CPUs with bf16 matrix units, bf16 autocast
    for training, which is faster there). An explicit `fp32`, `bf16` or `fp16` is taken as given."""
    if dtype != "auto" and dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of auto, {', '.join(DTYPES)}")
    if dtype != "auto":
        chosen = DTYPES[dtype]
        compute = None if chosen == torch.float32 else chosen
        return Precision(device, chosen, compute, chosen == torch.float16, f"--dtype {dtype} as asked")
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        name = f"{torch.cuda.get_device_name(device)}, compute capability {major}.{minor}"
        if (major, minor) >= (8, 0):
            return Precision(device, torch.bfloat16, torch.bfloat16, False, f"{name}: native bf16")
        return Precision(device, torch.float16, torch.float16, True,
                         f"{name} < 8.0: no native bf16 (emulated bf16 is slow), so fp16 with loss scaling")
    if device.type == "cpu" and cpu_has_fast_bf16():
        return Precision(device, torch.float32, torch.bfloat16, False,
                         "CPU with bf16 matrix units: fp32 weights, bf16 autocast for training")
    if device.type == "mps":
        return Precision(device, torch.float32, None, False, "MPS: fp32 (try --dtype fp16 for half precision)")
    return Precision(device, torch.float32, None, False, "CPU without bf16 units: fp32 (bf16 would be emulated)")


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """`--device` and `--dtype`, the same for every command that runs a model."""
    parser.add_argument("--device", default="auto", help="auto (a CUDA GPU, else MPS, else the CPU), cpu, cuda, "
                                                         "cuda:N or mps (default: auto)")
    parser.add_argument("--dtype", default="auto", choices=["auto", *DTYPES],
                        help="the frozen backbones' precision; auto: bf16 on GPUs with compute capability "
                             ">= 8.0, fp16 with loss scaling on older GPUs (T4, V100), fp32 on CPU/MPS")
