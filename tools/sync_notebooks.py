#!/usr/bin/env python
"""Keep every notebook and its percent-format script in step (jupytext pairs, see jupytext.toml).

    python tools/sync_notebooks.py           # `make sync`: jupytext --sync on every lesson and solution
                                             # pair, then the student exercises from their solutions
    python tools/sync_notebooks.py --check   # exit 1, one line per disagreement, changing nothing

The script (notebooks/05_finetune.py) holds the inputs, the notebook (.ipynb) also the outputs.
`jupytext --sync` takes the inputs from whichever file of a pair was saved last and rewrites the other,
keeping the notebook's outputs. Student exercises (exercises/NN_*.ipynb and .py) are written by
tools/make_exercises.py from exercises/solutions/NN_*.py, never edited by hand.
`--check` (and tests/test_notebook_sync.py) compares what jupytext reads from each script with what
nbformat reads from its notebook (cell types, sources, tags), and each student notebook with what
make_exercises derives from its solution script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.cli import jupytext as jupytext_cli
from jupytext.config import load_jupytext_config

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/
import make_exercises  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDERS = ("notebooks", "exercises/solutions")  # pairs edited by people
STUDENT_FOLDER = "exercises"                            # pairs written by make_exercises
SCRIPT_FORMAT = make_exercises.SCRIPT_FORMAT


def pairs(root: Path = ROOT, folders: tuple[str, ...] = (*SOURCE_FOLDERS, STUDENT_FOLDER)) -> list[tuple[Path, Path]]:
    """(notebook, script) for every NN_* stem that has either file, in `folders`."""
    found = []
    for folder in folders:
        stems = {p.stem for p in (root / folder).glob("[0-9]*.ipynb")}
        stems |= {p.stem for p in (root / folder).glob("[0-9]*.py")}
        found += [(root / folder / f"{s}.ipynb", root / folder / f"{s}.py") for s in sorted(stems)]
    return found


def inputs(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """What a pair must agree on, cell by cell: type, source, tags."""
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


class SyncError(ValueError):
    """A file jupytext or nbformat cannot read; the message names it."""


def _one_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def read_script(script: Path) -> nbformat.NotebookNode:
    return jupytext.read(script, fmt=SCRIPT_FORMAT, config=load_jupytext_config(str(script)))


def _read(path: Path, name: str, problems: list[str]) -> nbformat.NotebookNode | None:
    """The notebook (nbformat) or script (jupytext); None, and a line in `problems`, if unreadable."""
    try:
        return nbformat.read(path, as_version=4) if path.suffix == ".ipynb" else read_script(path)
    except Exception as exc:  # JSON, YAML header, cells: their parsers raise many kinds
        problems.append(f"{name}: cannot read: {_one_line(exc)}")
        return None


def _first_line_apart(a: str, b: str) -> str:
    lines_a, lines_b = a.split("\n"), b.split("\n")
    for number, (x, y) in enumerate(zip(lines_a, lines_b), 1):
        if x != y:
            return f"line {number}: {x!r} vs {y!r}"
    return f"{len(lines_a)} vs {len(lines_b)} lines"


def differences(name_a: str, a: nbformat.NotebookNode, name_b: str, b: nbformat.NotebookNode) -> list[str]:
    """One line per cell whose type, source or tags differ, naming both files and the cell (from 1)."""
    cells_a, cells_b = inputs(a), inputs(b)
    out = []
    for number, ((type_a, src_a, tags_a), (type_b, src_b, tags_b)) in enumerate(zip(cells_a, cells_b), 1):
        where = f"{name_a} cell {number}"
        if type_a != type_b:
            out.append(f"{where}: {type_a} cell, {type_b} in {name_b}")
        elif src_a != src_b:
            out.append(f"{where}: source differs from {name_b}, {_first_line_apart(src_a, src_b)}")
        elif tags_a != tags_b:
            out.append(f"{where}: tags {tags_a} vs {tags_b} in {name_b}")
    if len(cells_a) != len(cells_b):
        out.append(f"{name_a}: {len(cells_a)} cells, {name_b} {len(cells_b)}")
    return out


def problems(root: Path = ROOT) -> list[str]:
    """Every disagreement: a file without its pair, a script vs its notebook, a student vs its solution."""
    out, unreadable = [], set()
    for notebook, script in pairs(root):
        name_nb, name_py = (str(p.relative_to(root)) for p in (notebook, script))
        missing = [n for n, p in ((name_nb, notebook), (name_py, script)) if not p.exists()]
        if missing:
            out += [f"{m}: missing (run `make sync`)" for m in missing]
            continue
        notebook_nb, script_nb = _read(notebook, name_nb, out), _read(script, name_py, out)
        if notebook_nb is None or script_nb is None:
            unreadable |= {notebook, script}
            continue
        out += differences(name_py, script_nb, name_nb, notebook_nb)
    for solution in make_exercises.solution_scripts(root):
        student_nb, student_py = make_exercises.student_paths(solution)
        if not student_nb.exists() or {solution, student_nb} & unreadable:
            if not student_nb.exists() and not student_py.exists():  # otherwise reported above
                out.append(f"{student_nb.relative_to(root)}: missing (run `make sync`)")
            continue
        name = str(student_nb.relative_to(root))
        try:
            derived = make_exercises.derive(solution)
        except make_exercises.MarkerError as exc:
            out.append(str(exc))
            continue
        out += [f"{line} (student notebooks come from tools/make_exercises.py)" for line in differences(
            name, nbformat.read(student_nb, as_version=4), f"what {solution.relative_to(root)} derives", derived)]
    return out


def sync(paths: list[Path]) -> None:
    """jupytext --sync: the newer file of each pair gives the inputs, the notebook keeps its outputs."""
    for path in paths:
        try:
            jupytext_cli(["--sync", "--quiet", str(path)])
        except Exception as exc:  # jupytext raises many kinds on a broken file: name it
            raise SyncError(f"{path}: cannot sync: {_one_line(exc)}") from exc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="report disagreements, change nothing")
    args = ap.parse_args(argv)
    if not args.check:
        source_pairs = pairs(folders=SOURCE_FOLDERS)
        before = {p: p.read_bytes() if p.exists() else None for pair in source_pairs for p in pair}
        try:
            sync([script if script.exists() else notebook for notebook, script in source_pairs])
        except SyncError as exc:
            print(f"sync_notebooks: {exc}", file=sys.stderr)
            return 1
        for path, content in before.items():
            if path.exists() and path.read_bytes() != content:
                print(f"wrote {path.relative_to(ROOT)}")
        if make_exercises.main([]):
            return 1
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
