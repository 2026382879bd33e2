"""What every notebook builder shares: cells from (kind, source, tags) triples, the Colab set-up cell
right after the title, and the kernel the committed notebooks declare."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nb_colab import colab_cell

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def notebook_from_cells(cells: list[tuple[str, str, list[str]]]) -> nbformat.NotebookNode:
    """A notebook with no outputs: `make notebooks NB=...` executes it in place."""
    nb = new_notebook()
    for kind, source, tags in cells:
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nb.cells.insert(1, colab_cell())  # Colab set-up, right after the title (tools/nb_colab.py)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    return nb
