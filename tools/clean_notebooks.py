#!/usr/bin/env python
"""Student copies of the notebooks: headings and code only, outputs stripped (like fastbook's clean/).

    python tools/clean_notebooks.py                      # every notebooks/*.ipynb -> build/student/
    python tools/clean_notebooks.py --out DIR nb.ipynb   # chosen notebooks, chosen folder

Markdown cells keep only their heading lines (`# ...`); prose-only markdown cells are dropped, so
readers have to explain each step to themselves. Code cells keep their source, lose outputs and
execution counts. Cells tagged `solution` lose their code (a `# your code here` stub remains).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = []
    for cell in nb.cells:
        src = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if cell.cell_type == "markdown":
            headings = [line for line in src.splitlines() if line.lstrip().startswith("#")]
            if headings:
                cells.append(nbformat.v4.new_markdown_cell("\n".join(headings)))
        elif cell.cell_type == "code":
            tags = list(cell.metadata.get("tags", []))
            new = nbformat.v4.new_code_cell("# your code here" if "solution" in tags else src)
            if tags:
                new.metadata["tags"] = [t for t in tags if t != "solution"]
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
