#!/usr/bin/env python
"""The Colab set-up cell that opens every notebook and exercise notebook, right after the title.

    python tools/nb_colab.py --insert    # add (or refresh) the cell in every committed notebook
    python tools/nb_colab.py --check     # exit 1 if a notebook lacks the current cell

On Colab the cell installs sparkles-lite from the repository; in any other kernel (the venv, the
tests, papermill) it does nothing. It is an ordinary cell of each notebook's paired script (a new
lesson copies it from another one). `--insert` puts the current cell into the committed notebooks by
editing their JSON (nothing is executed, every other cell and output is kept), then syncs each edited
notebook's script (tools/sync_notebooks.py); it is idempotent: a cell tagged `colab-setup` is updated
in place, never duplicated.

The cell is plain Python (`subprocess` + `sys.executable -m pip`), not IPython's `!pip`:
tests/test_exercises.py executes the exercise notebooks' code cells with Python's own `compile`,
where `!pip` is a SyntaxError even inside an `if` that never runs. On Colab both install the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

# Where the repository lives on GitHub. REPO_OWNER is a placeholder: set it to the real owner (user
# or organisation) before publishing, then run `python tools/nb_colab.py --insert` and rebuild the
# README's Colab links (they use the same URL; see README, "Run in Colab").
REPO_URL = "https://github.com/REPO_OWNER/sparkles-lite"
COLAB_URL = REPO_URL.replace("https://github.com/", "https://colab.research.google.com/github/") + "/blob/main/"

TAG = "colab-setup"
CELL_ID = "colab-setup"  # fixed, so rebuilt and inserted notebooks hold the very same cell
NOTEBOOK_GLOBS = ("notebooks/*.ipynb", "exercises/*.ipynb", "exercises/solutions/*.ipynb")


def colab_source(repo_url: str = REPO_URL) -> str:
    return (
        "# On Colab: install sparkles-lite from the repository (does nothing elsewhere).\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "sparkles-lite @ git+{repo_url}"], check=True)'
    )


def colab_cell() -> nbformat.NotebookNode:
    """A fresh code cell (no outputs), tagged `colab-setup`; goes right after the title markdown."""
    cell = nbformat.v4.new_code_cell(colab_source(), metadata={"tags": [TAG]})
    cell["id"] = CELL_ID
    return cell


def colab_link(notebook: str) -> str:
    """'Open in Colab' address of a committed notebook, e.g. colab_link('notebooks/00_tour.ipynb')."""
    return COLAB_URL + notebook


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def is_colab_cell(cell) -> bool:
    return cell.cell_type == "code" and TAG in cell.get("metadata", {}).get("tags", [])


def insert(nb: nbformat.NotebookNode) -> bool:
    """Put the current Colab cell right after the first (title) markdown cell; True if `nb` changed."""
    existing = [i for i, c in enumerate(nb.cells) if is_colab_cell(c)]
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    want = title + 1
    if existing == [want] and _source(nb.cells[want]) == colab_source():
        return False
    for i in reversed(existing):
        del nb.cells[i]
    if nb.nbformat_minor < 5 and nb.nbformat == 4:  # cell ids need nbformat 4.5
        nb.nbformat_minor = 5
    cell = colab_cell()
    if any(c.get("id") == CELL_ID for c in nb.cells):  # ids are unique within a notebook
        cell["id"] = nbformat.v4.new_code_cell().id
    nb.cells.insert(want, cell)
    return True


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(p for g in NOTEBOOK_GLOBS for p in root.glob(g))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--insert", action="store_true", help="add or refresh the cell in the committed notebooks")
    mode.add_argument("--check", action="store_true", help="exit 1 if a notebook lacks the current cell")
    ap.add_argument("paths", nargs="*", type=Path, help=f"default: {', '.join(NOTEBOOK_GLOBS)}")
    args = ap.parse_args(argv)
    paths = args.paths or notebooks()
    if args.insert:
        from sync_notebooks import SyncError, sync

        try:
            sync(paths)  # an edited script first gives its notebook the inputs the cell goes into
        except SyncError as exc:
            print(f"nb_colab: {exc}", file=sys.stderr)
            return 1
    missing = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        changed = insert(nb)
        if args.check:
            if changed:
                missing += 1
                print(f"missing or stale Colab cell: {path}")
            continue
        if changed:
            nbformat.validate(nb)
            nbformat.write(nb, path)
            sync([path])
            print(f"inserted Colab cell: {path}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
