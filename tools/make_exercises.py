#!/usr/bin/env python
"""Write each student exercise notebook, exercises/NN_*.ipynb and its script exercises/NN_*.py, from
the lesson's one source: the solution script exercises/solutions/NN_*.py.

    python tools/make_exercises.py            # every lesson (`make sync` runs it after jupytext)
    python tools/make_exercises.py exercises/solutions/03_interleaved_tokens.py

In a solution, each task's code cell is tagged `solution` and marks what the student writes with
nbgrader's lines `### BEGIN SOLUTION` / `### END SOLUTION`. The student version:
* an indented region (a function body) becomes `raise NotImplementedError  # your code here` at the
  markers' indentation;
* a region at column 0 (definitions only the solution needs) goes, with the blank lines after it;
* a `solution` cell without markers becomes `# your code here`; the `solution` tag goes;
* the title loses " — solutions"; every other cell (explanations, the Colab and parameters cells,
  the check cells, summary()) is copied as it is.
Student notebooks carry no outputs; cell ids and notebook metadata of an existing student notebook are
kept, so a re-run rewrites nothing. The solutions keep their outputs: re-execute them with
`make notebooks NB="exercises/solutions/*.ipynb"`. tests/test_notebook_sync.py checks that every
student notebook is what this tool derives.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.combine import combine_inputs_with_outputs
from jupytext.config import load_jupytext_config

ROOT = Path(__file__).resolve().parent.parent

SOLUTION_TAG = "solution"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "raise NotImplementedError  # your code here"
EMPTIED = "# your code here"
TITLE_SUFFIX = " — solutions"
SCRIPT_FORMAT = "py:percent"


class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers; the message names the file and cell."""


def student_source(source: str, where: str) -> str:
    """`source` with every marked region replaced (indented) or dropped (column 0)."""
    out: list[str] = []
    indent: str | None = None  # the open region's indentation
    skip_blanks = False        # after a dropped region
    for number, line in enumerate(source.split("\n"), 1):
        marker = line.strip()
        if marker == BEGIN:
            if indent is not None:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another region")
            indent = line[: len(line) - len(line.lstrip())]
        elif marker == END:
            if indent is None:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            if indent:
                out.append(indent + STUB)
            skip_blanks = not indent
            indent = None
        elif indent is None and not (skip_blanks and not marker):
            skip_blanks = False
            out.append(line)
    if indent is not None:
        raise MarkerError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def student_notebook(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The student version of a solution notebook (inputs only); `name` goes into error messages."""
    student = copy.deepcopy(solution)
    for number, cell in enumerate(student.cells, 1):
        where = f"{name} cell {number}"
        tags = cell.metadata.get("tags", [])
        marked = any(line.strip() in (BEGIN, END) for line in cell.source.split("\n"))
        if SOLUTION_TAG in tags:
            cell.source = student_source(cell.source, where) if marked else EMPTIED
            cell.metadata["tags"] = [t for t in tags if t != SOLUTION_TAG]
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
        elif marked:
            raise MarkerError(f"{where}: solution markers in a cell not tagged `{SOLUTION_TAG}`")
    title = next((c for c in student.cells if c.cell_type == "markdown"), None)
    if title is not None:
        lines = title.source.split("\n")
        title.source = "\n".join([lines[0].removesuffix(TITLE_SUFFIX), *lines[1:]])
    return student


def student_paths(solution_script: Path) -> tuple[Path, Path]:
    """(notebook, script) of the student version: exercises/NN.ipynb, exercises/NN.py."""
    folder = solution_script.parent.parent
    return folder / f"{solution_script.stem}.ipynb", folder / f"{solution_script.stem}.py"


def derive(solution_script: Path) -> nbformat.NotebookNode:
    """The student notebook for `solution_script`, with the ids and metadata of the committed one."""
    config = load_jupytext_config(str(solution_script))
    solution = jupytext.read(solution_script, fmt=SCRIPT_FORMAT, config=config)
    student = student_notebook(solution, str(solution_script))
    notebook, _ = student_paths(solution_script)
    if notebook.exists():  # keep its cell ids and metadata (language_info)
        student = combine_inputs_with_outputs(student, nbformat.read(notebook, as_version=4), fmt=SCRIPT_FORMAT)
    for cell in student.cells:  # students start from a notebook that has not run
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return student


def write_student(solution_script: Path) -> list[Path]:
    """Write the student notebook and script for one lesson; the files whose content changed."""
    student = derive(solution_script)
    config = load_jupytext_config(str(solution_script))
    changed = []
    for path, fmt in zip(student_paths(solution_script), ("ipynb", SCRIPT_FORMAT)):
        text = jupytext.writes(student, fmt=fmt, config=config)
        text += "" if text.endswith("\n") else "\n"  # as jupytext.write does
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def solution_scripts(root: Path = ROOT) -> list[Path]:
    return sorted((root / "exercises" / "solutions").glob("[0-9]*.py"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("solutions", nargs="*", type=Path, help="default: every exercises/solutions/NN_*.py")
    args = ap.parse_args(argv)
    scripts = args.solutions or solution_scripts()
    for script in scripts:
        try:
            changed = write_student(script)
        except MarkerError as exc:
            print(f"make_exercises: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # a missing or unreadable script: jupytext's parsers raise many kinds
            print(f"make_exercises: {script}: cannot read: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
            return 1
        for path in changed:
            print(f"wrote {path}")
    print(f"{len(scripts)} student notebooks derived from their solutions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
