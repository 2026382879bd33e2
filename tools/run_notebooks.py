#!/usr/bin/env python
"""Execute notebooks with papermill, in place (`make notebooks`) or into a folder (the tests).

    python tools/run_notebooks.py                         # every notebooks/*.ipynb, in place, lite mode
    python tools/run_notebooks.py notebooks/00_tour.ipynb # just one
    python tools/run_notebooks.py -p SMOKE True --out /tmp/nbs   # CI-sized run, originals untouched

In place means: run into a temporary copy, and only when it succeeds replace the committed notebook
(papermill's timing metadata stripped so diffs show only real changes). A failed run is left in
build/failed/ for reading, and the committed notebook is untouched. In place first syncs the notebook
with its paired script (tools/sync_notebooks.py).

Conventions (see README, "Contributing"): every notebook has a cell tagged `parameters` that defines
at least `SMOKE = False`; `SMOKE = True` must make the whole notebook run in well under a minute on a
2-core CPU. The tests run each notebook in a fresh temporary working directory (here: notebooks/),
so notebooks find repo files through `sparkles_lite`, never through relative paths.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
PREFERRED_KERNEL = "sparkles-lite"
# What committed notebooks declare: "python3" opens on Colab without a warning, and inside the venv's
# Jupyter it is the venv's interpreter. The registered `sparkles-lite` kernel is for Jupyters elsewhere.
COMMITTED_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_TIMEOUT_S = 600
# The kernel inherits these: tqdm bars (default `disable`) and transformers' 'Loading weights' bars stay
# out of the outputs, which render them as blank widgets or '0%| 0/56' offline.
QUIET_PROGRESS = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def discover(root: Path = NOTEBOOK_DIR) -> list[Path]:
    """Every notebook of the curriculum, in curriculum order (file names start with their number)."""
    return sorted(p for p in root.glob("*.ipynb") if not p.name.startswith("."))


def _is_this_interpreter(argv0: str) -> bool:
    # jupyter_client replaces a bare "python"/"python3" with sys.executable.
    if argv0 in {"python", f"python{sys.version_info[0]}", "python%d.%d" % sys.version_info[:2]}:
        return True
    # Compare without resolving symlinks: a venv's python links to the base interpreter.
    here = Path(os.path.abspath(sys.executable))
    there = Path(os.path.abspath(argv0))
    return there == here or there.parent.parent == Path(os.path.abspath(sys.prefix))


def pick_kernel(preferred: str = PREFERRED_KERNEL) -> str:
    """`sparkles-lite` if it runs this interpreter, else `python3` if that does; never another env's kernel."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    ksm = KernelSpecManager()
    for name in (preferred, "python3"):
        try:
            spec = ksm.get_kernel_spec(name)
        except NoSuchKernel:
            continue
        if spec.argv and _is_this_interpreter(spec.argv[0]):
            return name
    raise RuntimeError(
        f"no Jupyter kernel runs {sys.executable}; register one with "
        f"`{sys.executable} -m ipykernel install --sys-prefix --name {preferred}` (or `make kernel`)"
    )


def parameter_cell_source(nb: dict) -> str | None:
    for cell in nb.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return None


def parameter_names(nb: dict) -> set[str]:
    """Names assigned in the `parameters` cell (empty set when there is none)."""
    src = parameter_cell_source(nb)
    if src is None:
        return set()
    names: set[str] = set()
    for node in ast.parse(src).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def strip_run_metadata(nb) -> None:
    """Drop papermill/nbclient bookkeeping (timestamps, durations, paths, the empty `tags` list papermill
    gives every cell) so re-runs diff cleanly and the paired script gets no `tags=[]` headers."""
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = dict(COMMITTED_KERNELSPEC)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]


def execute(src: Path, dst: Path, parameters: dict | None = None, kernel: str | None = None,
            cwd: Path | None = None, timeout: int = CELL_TIMEOUT_S) -> None:
    """Run `src` into `dst` with papermill, its kernel without progress bars (QUIET_PROGRESS); raises
    papermill's PapermillExecutionError on a failing cell."""
    import papermill as pm

    saved = {name: os.environ.get(name) for name in QUIET_PROGRESS}
    os.environ.update(QUIET_PROGRESS)
    try:
        pm.execute_notebook(
            str(src), str(dst),
            parameters=parameters or None,
            kernel_name=kernel or pick_kernel(),
            cwd=str(cwd) if cwd else None,
            progress_bar=False,
            execution_timeout=timeout,
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_in_place(nb_path: Path, parameters: dict, kernel: str) -> float:
    """Execute a committed notebook and replace it; first sync it with its paired script, so that an
    edited script gives the inputs that run (and a later sync cannot take the older inputs back)."""
    import nbformat
    from sync_notebooks import sync

    start = time.perf_counter()
    sync([nb_path])
    with tempfile.TemporaryDirectory(prefix="sparkles-nb-") as tmp:
        out = Path(tmp) / nb_path.name
        try:
            execute(nb_path, out, parameters, kernel, cwd=nb_path.parent)
        except Exception:
            failed = ROOT / "build" / "failed"
            failed.mkdir(parents=True, exist_ok=True)
            if out.exists():
                shutil.copy(out, failed / nb_path.name)
            print(f"FAILED {nb_path.name}: executed copy in {failed / nb_path.name}", file=sys.stderr)
            raise
        nb = nbformat.read(out, as_version=4)
        strip_run_metadata(nb)
        nbformat.write(nb, nb_path)
    return time.perf_counter() - start


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                    help="override a parameter (value parsed as a Python literal), e.g. -p SMOKE True")
    ap.add_argument("--kernel", default=None, help=f"Jupyter kernel (default: {PREFERRED_KERNEL} if it runs "
                    "this interpreter, else python3)")
    ap.add_argument("--out", type=Path, default=None,
                    help="write executed copies here instead of replacing the notebooks")
    args = ap.parse_args(argv)

    notebooks = args.notebooks or discover()
    if not notebooks:
        print("no notebooks found", file=sys.stderr)
        return 1
    params = {k: _value(v) for k, v in args.parameter}
    kernel = args.kernel or pick_kernel()
    failures = 0
    for nb_path in notebooks:
        nb_path = nb_path.resolve()
        try:
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                t0 = time.perf_counter()
                execute(nb_path, args.out / nb_path.name, params, kernel, cwd=args.out)
                took = time.perf_counter() - t0
            else:
                took = run_in_place(nb_path, params, kernel)
            print(f"ok     {nb_path.name:40s} {took:6.1f} s", flush=True)
        except Exception as exc:  # keep going: report every broken notebook in one run
            failures += 1
            print(f"FAILED {nb_path.name:40s} {type(exc).__name__}: {str(exc).strip()[:400]}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
