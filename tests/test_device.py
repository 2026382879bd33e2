"""Device and precision: the choice `--device` / `--dtype auto` makes, with the GPU's compute
capability mocked (no GPU needed), and the flags every model-running command accepts."""

from __future__ import annotations

import argparse
import importlib

import pytest
import torch

from sparkles_lite.cli import COMMANDS
from sparkles_lite.device import choose_precision, pick_device


@pytest.fixture
def fake_gpu(monkeypatch):
    """A CUDA GPU of the given compute capability, as torch reports it; is_bf16_supported() says True
    whatever the capability, as it does on a T4, where bf16 is emulated."""
    def install(capability: tuple[int, int], name: str):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
        return torch.device("cuda", 0)
    return install


def test_a_t4_gets_fp16_with_grad_scaling_although_torch_claims_bf16(fake_gpu):
    t4 = fake_gpu((7, 5), "Tesla T4")
    assert torch.cuda.is_bf16_supported()  # the trap: emulated, slow
    p = choose_precision(t4)
    assert p.weights == p.compute == torch.float16 and p.grad_scaling
    assert "Tesla T4" in p.reason and "7.5" in p.reason and "fp16" in p.describe() and "GradScaler on" in p.describe()


@pytest.mark.parametrize("capability,name,dtype,scaling", [
    ((7, 0), "Tesla V100-SXM2-16GB", torch.float16, True),
    ((8, 0), "NVIDIA A100-SXM4-40GB", torch.bfloat16, False),
    ((8, 9), "NVIDIA L4", torch.bfloat16, False),
    ((9, 0), "NVIDIA H100 80GB HBM3", torch.bfloat16, False),
])
def test_bf16_only_from_compute_capability_8(fake_gpu, capability, name, dtype, scaling):
    p = choose_precision(fake_gpu(capability, name))
    assert (p.weights, p.compute, p.grad_scaling) == (dtype, dtype, scaling)
    assert p.as_dict()["weights"] == {torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]


def test_cpu_is_fp32_with_bf16_autocast_only_where_the_cpu_has_bf16_units(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv("SPARKLES_CPU_BF16", "1")
    p = choose_precision(cpu)
    assert p.weights == torch.float32 and p.compute == torch.bfloat16 and not p.grad_scaling
    with p.autocast():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    monkeypatch.setenv("SPARKLES_CPU_BF16", "0")
    p = choose_precision(cpu)
    assert (p.weights, p.compute, p.grad_scaling) == (torch.float32, None, False)
    with p.autocast():
        assert not torch.is_autocast_enabled("cpu")


@pytest.mark.parametrize("dtype,weights,scaling", [("fp32", torch.float32, False), ("bf16", torch.bfloat16, False),
                                                    ("fp16", torch.float16, True)])
def test_an_explicit_dtype_is_taken_as_given(fake_gpu, dtype, weights, scaling):
    for device in (torch.device("cpu"), fake_gpu((7, 5), "Tesla T4")):
        p = choose_precision(device, dtype)
        assert (p.weights, p.grad_scaling) == (weights, scaling)
        assert p.compute == (None if dtype == "fp32" else weights)


def test_bad_device_and_dtype_names_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        choose_precision(torch.device("cpu"), "fp8")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        pick_device("cuda")
    assert pick_device("auto").type in ("cpu", "mps") and pick_device("cpu") == torch.device("cpu")


def test_auto_takes_the_gpu_of_this_torchrun_process(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert pick_device("auto") == torch.device("cuda", 1) == pick_device("cuda")
    assert pick_device("cuda:0") == torch.device("cuda", 0)


@pytest.mark.parametrize("command", ["train", "chat", "eval", "demo"])
def test_every_model_command_takes_device_and_dtype(command):
    parser = argparse.ArgumentParser()
    importlib.import_module(COMMANDS[command][0]).add_arguments(parser)
    required = {"train": ["--stage", "2", "--out", "x"], "eval": ["--task", "bison"]}.get(command, [])
    args = parser.parse_args(required + ["--device", "cpu", "--dtype", "fp16"])
    assert (args.device, args.dtype) == ("cpu", "fp16")
    defaults = parser.parse_args(required)
    assert (defaults.device, defaults.dtype) == ("auto", "auto")
    with pytest.raises(SystemExit):
        parser.parse_args(required + ["--dtype", "fp8"])


def test_train_with_a_missing_gpu_fails_in_one_line(monkeypatch, tmp_path, capsys):
    from sparkles_lite.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc = main(["train", "--stage", "2", "--out", str(tmp_path), "--device", "cuda", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: device 'cuda': no CUDA GPU") and len(err.strip().splitlines()) == 1
