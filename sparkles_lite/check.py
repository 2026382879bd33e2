"""`python -m sparkles_lite check`: is this machine ready for the lessons? One line per check, OK or
FAIL with what to do, and a non-zero exit when anything failed (a workshop's first command).

Checks, in order: Python and package versions against the floors the package declares, the shipped
weights load, the shipped SparklesChat-lite answers one question about a rendered image, and a Jupyter
kernel runs this interpreter. Offline; about 10 s on a laptop CPU.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

MIN_PYTHON = (3, 10)
PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "pillow", "matplotlib", "ipywidgets", "openai")
KERNEL_HINT = ('register this environment as a kernel: python -m ipykernel install --user --name sparkles-lite '
               '--display-name "Python (sparkles-lite)" (or `make kernel`)')


class CheckFailed(Exception):
    """A check's one-line reason for FAIL."""


def check_python() -> str:
    found = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        raise CheckFailed(f"Python {found}: sparkles-lite needs Python >= {'.'.join(map(str, MIN_PYTHON))}")
    return f"Python {found} ({sys.executable})"


def check_packages() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import sparkles_lite
    from sparkles_lite.versions import too_old

    found, problems = [f"sparkles-lite {sparkles_lite.__version__}"], []
    for name in PACKAGES:
        try:
            installed = version(name)
        except PackageNotFoundError:
            problems.append(f"{name} is not installed: pip install {name}")
            continue
        found.append(f"{name} {installed}")
        if problem := too_old(name, installed):
            problems.append(problem)
    if problems:
        raise CheckFailed("; ".join(problems))
    return ", ".join(found)


def check_weights(state: dict) -> str:
    from sparkles_lite.model.sparkles_chat import SparklesChat

    state["model"] = SparklesChat.from_pretrained("sparkleschat-lite")
    trainable = state["model"].parameter_counts()["trainable"]
    return f"shipped SparklesChat-lite loads ({trainable:,} trainable parameters)"


def check_answer(state: dict) -> str:
    import random

    from sparkles_lite.lite import world
    from sparkles_lite.chat import Chat

    if "model" not in state:
        raise CheckFailed("no model to ask (the weights did not load)")
    scene = world.random_scene(random.Random(0))
    chat = Chat(state["model"])
    chat.add_image(world.render(scene))
    chat.ask("What is in IMAGE#1?")
    answer = chat.answer(max_new_tokens=32).strip()
    if not answer:
        raise CheckFailed("the model answered with nothing")
    return f"one answer: {answer!r} (the image: {world.describe(scene)})"


def kernel_runs_this_python(specs: dict[str, dict], jupyter_here: bool) -> str | None:
    """The name of a Jupyter kernel whose interpreter is in this environment (its bin folder), or None.
    The generic `python3` kernel runs whichever Python started Jupyter, so it counts only when Jupyter
    itself is installed here."""
    here = Path(sys.executable).absolute().parent
    for name, spec in sorted(specs.items()):
        argv = spec.get("spec", {}).get("argv", [])
        if not argv or (name == "python3" and not jupyter_here):
            continue
        exe = shutil.which(argv[0]) or argv[0]
        if Path(exe).absolute().parent == here:
            return name
    return None


def check_kernel() -> str:
    import importlib.util

    try:
        import ipykernel  # noqa: F401
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        raise CheckFailed("no Jupyter here: pip install jupyterlab ipykernel (or pip install -e \".[dev]\")") from None
    jupyter_here = importlib.util.find_spec("jupyter_server") is not None
    name = kernel_runs_this_python(KernelSpecManager().get_all_specs(), jupyter_here)
    if name is None:
        raise CheckFailed(f"no Jupyter kernel runs {sys.executable}; {KERNEL_HINT}")
    return f"Jupyter kernel: {name}"


def checks() -> list[tuple[str, Callable[[dict], str]]]:
    return [("python", lambda s: check_python()), ("packages", lambda s: check_packages()),
            ("weights", check_weights), ("chat", check_answer), ("kernel", lambda s: check_kernel())]


def run_checks(out=print) -> bool:
    """Every check, one line each; True when all passed."""
    state: dict = {}
    ok = True
    for label, check in checks():
        start = time.perf_counter()
        try:
            line, passed = check(state), True
        except CheckFailed as e:
            line, passed = str(e), False
        except Exception as e:  # a check must report, never stop the others
            line, passed = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", False
        ok &= passed
        out(f"{'OK  ' if passed else 'FAIL'} {label:8s} {line} [{time.perf_counter() - start:.1f} s]")
    return ok


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__.splitlines()[0]


def run(args: argparse.Namespace) -> int:
    from transformers.utils import logging as hf_logging

    from sparkles_lite.train.common import set_threads

    set_threads()
    hf_logging.disable_progress_bar()  # one line per check, no 'Loading weights' bar between them
    ok = run_checks()
    print("ready for the lessons" if ok else "not ready: fix the FAIL lines above (WORKSHOP.md, Troubleshooting)")
    return 0 if ok else 1
