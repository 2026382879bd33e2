#!/usr/bin/env python
"""Student copies of the notebooks: headings and code only, outputs stripped (like fastbook's clean/).

    python tools/clean_notebooks.py                      # every notebooks/*.ipynb -> build/student/
    python tools/clean_notebooks.py --out DIR nb.ipynb   # chosen notebooks, chosen folder

Markdown cells keep only their heading lines (`# ...`, not `# comments` inside fenced code); prose-only
markdown cells are dropped, so readers have to explain each step to themselves. Code cells keep their
source, lose outputs and execution counts. Cells tagged `solution` lose their code (a `# your code
here` stub remains). Cell ids are kept, so a re-run writes the same files.
tests/test_clean_notebooks.py compares every copy with its original.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"


HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")  # a Markdown ATX heading: `# Title`, `## 2 · Step`
FENCE = re.compile(r"^ {0,3}(```|~~~)")


def headings(markdown: str) -> list[str]:
    """The heading lines of a markdown cell; `# comments` inside fenced code blocks are not headings."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and HEADING.match(line):
            out.append(line)
    return out


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = []
    for cell in nb.cells:
        src = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if cell.cell_type == "markdown":
            lines = headings(src)
            if not lines:
                continue
            new = nbformat.v4.new_markdown_cell("\n".join(lines))
        elif cell.cell_type == "code":
            tags = list(cell.metadata.get("tags", []))
            new = nbformat.v4.new_code_cell("# your code here" if "solution" in tags else src)
            if tags:
                new.metadata["tags"] = [t for t in tags if t != "solution"]
        else:
            continue
        if cell.get("id"):  # keep the original's id: re-running the tool gives the same file
            new["id"] = cell["id"]
        cells.append(new)
    out = nbformat.v4.new_notebook(metadata={k: v for k, v in nb.metadata.items() if k != "papermill"})
    out.cells = cells
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "student")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nb = clean(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        nbformat.write(nb, args.out / path.name)
        print(f"{path.name} -> {args.out / path.name} ({len(nb.cells)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
