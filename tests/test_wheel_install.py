"""What a learner with only `pip install sparkles_lite-*.whl` has: the wheel is built from a clean copy
of the sources, installed into a fresh venv outside the repository, and notebook 04 (the photos and
the lite sample) runs there with papermill (SMOKE), in a kernel of that venv.

The dependencies (torch, transformers, papermill, ...) are reused from this interpreter's
site-packages through a `.pth` line, so nothing is downloaded; `.pth` files found there are not
processed, so this checkout's editable install is invisible and `sparkles_lite` can come only from the
wheel (the test asserts where it was imported from)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "04_sparkles_dialogue.ipynb"
SOURCES = ("sparkles_lite", "pyproject.toml", "README.md", "LICENSE")

pytestmark = pytest.mark.notebooks


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def build_wheel(out: Path) -> Path:
    """The wheel of a clean copy (a stale build/ of the checkout can leave deleted files in a wheel)."""
    src = out / "src"
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / name).is_dir() else {}))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)], cwd=out)
    (wheel,) = out.glob("sparkles_lite-*.whl")
    return wheel


def fresh_venv(where: Path, wheel: Path) -> Path:
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=where).strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=where)
    return python


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout bin/")
def test_notebook_04_runs_from_the_installed_wheel(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    python = fresh_venv(tmp_path / "venv", wheel)
    work = tmp_path / "learner"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER"))}
    env.update(OMP_NUM_THREADS="1", JUPYTER_PATH=str(tmp_path / "venv" / "share" / "jupyter"),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"), JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"))

    where = _run([str(python), "-c", "import sparkles_lite; print(sparkles_lite.__file__)"], cwd=work, env=env)
    assert Path(where.strip()).is_relative_to(tmp_path / "venv"), f"sparkles_lite imported from {where}, not the wheel"

    _run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "wheel-venv"], cwd=work, env=env)
    shutil.copy2(NOTEBOOK, work / NOTEBOOK.name)
    _run([str(python), "-m", "papermill", "-k", "wheel-venv", "-p", "SMOKE", "True", "--no-progress-bar",
          NOTEBOOK.name, "out.ipynb"], cwd=work, env=env)
