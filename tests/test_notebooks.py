"""Every notebooks/*.ipynb runs, top to bottom, in lite SMOKE mode; its checked outputs still match.

Per notebook (ids are file names; `pytest -m "not notebooks"` skips them all, `-k 00_tour` picks one):

* ``test_committed_notebook``: static, instant. The committed file is valid, has a cell tagged
  ``parameters`` that defines ``SMOKE``, carries outputs (readers on GitHub see the plots: a notebook
  committed without outputs fails) and no error outputs.
* ``test_notebook_runs``: papermill executes it into a temporary folder (also its working directory)
  with ``SMOKE=True`` injected after the ``parameters`` cell, on the ``sparkles-lite`` kernel when it
  runs this interpreter, else ``python3`` (see ``tools/run_notebooks.py:pick_kernel``). Any raising cell
  fails the test, naming the cell. Then, only if the notebook has cells marked ``# NBVAL_CHECK_OUTPUT``,
  nbval (``--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg``, as a
  subprocess) re-executes the SMOKE copy and compares those cells with:

  - the **committed** outputs: a checked cell must print the same with ``SMOKE`` True or False, so this
    also catches committed notebooks gone stale against the code;
  - or, for a checked cell that also holds the line ``# SMOKE_DEPENDENT``, the papermill SMOKE run's
    outputs (a determinism check only).

Decision on nbval re-execution (measured on 00_tour, 2-core CPU): papermill SMOKE run ~2.5 s, nbval
re-execution ~2-3 s with its pytest start-up, the whole test 5-6 s: nbval roughly doubles a notebook's cost. ``--nbval-lax`` on a
notebook without checked cells only re-checks "no cell raises", which papermill already proved, so
nbval runs only on notebooks that have ``# NBVAL_CHECK_OUTPUT`` cells. With every SMOKE run under a
minute, 11 notebooks stay well inside the 15-minute ``make test`` budget even if all are checked.
Override with ``SPARKLES_NBVAL=all`` (nbval on every notebook) or ``SPARKLES_NBVAL=none``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
sys.path.insert(0, str(ROOT / "tools"))
import run_notebooks as rn  # noqa: E402

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
SMOKE_DEPENDENT_MARK = "# SMOKE_DEPENDENT"
SMOKE_PARAMETERS = {"SMOKE": True}
NBVAL_MODE = os.environ.get("SPARKLES_NBVAL", "marked")  # marked | all | none
CELL_TIMEOUT_S = 240  # a SMOKE cell stuck this long is a bug; fail before CI's budget goes

NOTEBOOKS = rn.discover()
pytestmark = pytest.mark.notebooks


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK_MARK in _source(cell)


@pytest.fixture(scope="session")
def kernel() -> str:
    return rn.pick_kernel()


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {rn.NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_committed_notebook(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)

    assert rn.parameter_cell_source(nb) is not None, (
        f"{path.name}: no cell tagged 'parameters' (see README, Contributing: notebook parameters)")
    assert "SMOKE" in rn.parameter_names(nb), f"{path.name}: the 'parameters' cell must define SMOKE"

    code = [c for c in nb.cells if c.cell_type == "code"]
    with_outputs = [c for c in code if c.get("outputs")]
    assert with_outputs, (f"{path.name} is committed without outputs; run `make notebooks NB=notebooks/"
                          f"{path.name}` and commit the result")
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} is committed with an error output: {errors[0].get('ename')}"
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells), (
        f"{path.name} holds a papermill 'injected-parameters' cell: commit the notebook run with its defaults")
    bars = progress_bars(nb)
    assert not bars, f"{path.name} is committed with progress bars in its outputs: {bars[:3]}"


PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+|Loading weights|Writing model shards")


def progress_bars(nb) -> list[str]:
    """(cell number, text) of every output that is a progress bar: a tqdm widget or its text in a stream."""
    found = []
    for n, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            if PROGRESS_BAR.search(text):
                found.append(f"cell {n}: {text.strip()[:60]!r}")
    return found


def test_progress_bars_are_found():
    """The check above can fail: a tqdm widget's text and a stderr bar are both caught, a chat widget is not."""
    bar = nbformat.v4.new_output("display_data", data={"text/plain": "Loading weights:   0%|          | 0/56",
                                                         "application/vnd.jupyter.widget-view+json": {}})
    stream = nbformat.v4.new_output("stream", name="stderr", text="stage 1:  40%|####      | 40/100 [00:02<00:03]")
    chat = nbformat.v4.new_output("display_data", data={"text/plain": "VBox(children=(Dropdown(...),))"})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[bar]), nbformat.v4.new_code_cell(outputs=[chat]),
                                         nbformat.v4.new_code_cell(outputs=[stream])])
    assert [f.split(":")[0] for f in progress_bars(nb)] == ["cell 0", "cell 2"]


def test_notebook_kernels_run_without_progress_bars(monkeypatch, tmp_path: Path):
    """rn.execute starts the kernel (which inherits the environment) with tqdm's and the hub's
    bars switched off, and leaves the caller's environment as it was."""
    import papermill

    seen = {}
    monkeypatch.setenv("TQDM_DISABLE", "0")
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    monkeypatch.setattr(papermill, "execute_notebook",
                        lambda *a, **k: seen.update({n: os.environ.get(n) for n in rn.QUIET_PROGRESS}))
    rn.execute(tmp_path / "in.ipynb", tmp_path / "out.ipynb", kernel="python3")
    assert seen == {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    assert os.environ["TQDM_DISABLE"] == "0" and "HF_HUB_DISABLE_PROGRESS_BARS" not in os.environ


def _check_notebook(committed, executed):
    """The SMOKE-run notebook, with committed outputs put back on checked cells (unless SMOKE_DEPENDENT)."""
    by_id = {c.get("id"): c for c in committed.cells if c.get("id")}
    by_source = {_source(c): c for c in committed.cells}
    for cell in executed.cells:
        if not _checked(cell) or SMOKE_DEPENDENT_MARK in _source(cell):
            continue
        original = by_id.get(cell.get("id")) or by_source.get(_source(cell))
        if original is not None:
            cell.outputs = original.outputs
    return executed


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path: Path, tmp_path: Path, kernel: str):
    from papermill.exceptions import PapermillExecutionError

    executed_path = tmp_path / path.name
    try:
        rn.execute(path, executed_path, SMOKE_PARAMETERS, kernel, cwd=tmp_path, timeout=CELL_TIMEOUT_S)
    except PapermillExecutionError as exc:
        pytest.fail(f"{path.name}: cell [{exc.exec_count}] raised {exc.ename}: {exc.evalue}\n"
                    f"executed copy: {executed_path}", pytrace=False)

    executed = nbformat.read(executed_path, as_version=4)
    bars = progress_bars(executed)
    assert not bars, f"{path.name}: progress bars in the outputs (a reader sees them): {bars[:3]}"
    committed = nbformat.read(path, as_version=4)
    if NBVAL_MODE == "none" or (NBVAL_MODE == "marked" and not any(_checked(c) for c in committed.cells)):
        return
    check_path = tmp_path / f"nbval_{path.name}"
    nbformat.write(_check_notebook(committed, executed), check_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(check_path), "--nbval-lax", "--nbval-current-env",
         "--nbval-sanitize-with", str(SANITIZE), "-p", "no:cacheprovider", "-q", "--color=no", "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"{path.name}: nbval found outputs that differ (checked cells compare with the committed "
                    f"notebook: re-run `make notebooks NB=notebooks/{path.name}` if the change is intended)\n"
                    + proc.stdout[-6000:] + proc.stderr[-2000:], pytrace=False)
