"""Student copies (tools/clean_notebooks.py, `make clean-notebooks`) stay in step with the notebooks.

The copies are not committed: they are regenerated from the current notebooks/*.ipynb into a
temporary folder, and each one is compared with its original here, so they cannot drift. Checked:
every notebook has a copy; the copy holds the original's headings and code cells, in the original
order, and nothing else; no outputs, no execution counts, no papermill bookkeeping; cells tagged
`solution` are emptied (on a small made-up notebook and on exercises/solutions/); a changed original
changes its copy; two runs write the same bytes. Static (nothing is executed): a few seconds.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import clean_notebooks as cn  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "exercises" / "solutions").glob("*.ipynb"))
STUB = "# your code here"


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _expected(nb) -> list[tuple[str, str]]:
    """What a student copy must hold, worked out here independently of the tool: (type, source)."""
    out = []
    for cell in nb.cells:
        src = _source(cell)
        if cell.cell_type == "markdown":
            kept, fenced = [], False
            for line in src.splitlines():
                if line.strip().startswith(("```", "~~~")):
                    fenced = not fenced
                elif not fenced and re.match(r"#+ ", line.lstrip()):
                    kept.append(line)
            if kept:
                out.append(("markdown", "\n".join(kept)))
        elif cell.cell_type == "code":
            out.append(("code", STUB if "solution" in cell.metadata.get("tags", []) else src))
    return out


def _clean_into(out: Path, *paths: Path) -> None:
    assert cn.main(["--out", str(out), *map(str, paths)]) == 0


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    """The copies, made by the tool's command line (default: every notebooks/*.ipynb)."""
    out = tmp_path_factory.mktemp("student")
    _clean_into(out)
    return out


def test_every_notebook_has_a_student_copy(student: Path):
    assert NOTEBOOKS
    assert sorted(p.name for p in student.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_copy_has_the_originals_headings_and_code_in_order(path: Path, student: Path):
    original = nbformat.read(path, as_version=4)
    copy = nbformat.read(student / path.name, as_version=4)
    nbformat.validate(copy)
    assert [(c.cell_type, _source(c)) for c in copy.cells] == _expected(original), (
        f"{path.name}: the student copy differs from its original's headings and code")
    assert [h for h in _expected(original) if h[0] == "markdown"], f"{path.name}: no headings at all"
    for cell in copy.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name
            assert "papermill" not in cell.metadata and "execution" not in cell.metadata, path.name
            assert "solution" not in cell.metadata.get("tags", []), path.name
    assert "papermill" not in copy.metadata
    assert copy.metadata.get("kernelspec") == original.metadata.get("kernelspec")
    # The parameters cell (papermill, the tests) and the Colab set-up cell survive, with their tags.
    tags = [c.metadata.get("tags", []) for c in copy.cells if c.cell_type == "code"]
    assert any("parameters" in t for t in tags), path.name
    if any("colab-setup" in c.metadata.get("tags", []) for c in original.cells):
        assert copy.cells[1].cell_type == "code" and "colab-setup" in copy.cells[1].metadata["tags"], path.name


def test_solution_cells_are_emptied(tmp_path: Path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\nProse that students explain to themselves.\n\n"
                                      "```bash\n# a shell comment, not a heading\nmake test\n```"),
        nbformat.v4.new_code_cell("SMOKE = False", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("Only prose: dropped."),
        nbformat.v4.new_markdown_cell("## Task 1\n#hashtag is no heading either"),
        nbformat.v4.new_code_cell("def f():\n    return 42", metadata={"tags": ["solution", "keep-me"]}),
        nbformat.v4.new_code_cell("f()", execution_count=3, outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=3)]),
    ])
    nb.metadata["papermill"] = {"duration": 1.0}
    src = tmp_path / "made_up.ipynb"
    nbformat.write(nb, src)
    _clean_into(tmp_path / "out", src)
    copy = nbformat.read(tmp_path / "out" / src.name, as_version=4)
    assert [(c.cell_type, _source(c)) for c in copy.cells] == [
        ("markdown", "# Title"), ("code", "SMOKE = False"), ("markdown", "## Task 1"),
        ("code", STUB), ("code", "f()")]
    assert copy.cells[3].metadata["tags"] == ["keep-me"]
    assert copy.cells[4].outputs == [] and copy.cells[4].execution_count is None
    assert "papermill" not in copy.metadata


def test_worked_solutions_lose_their_code(tmp_path: Path):
    assert SOLUTIONS
    _clean_into(tmp_path, *SOLUTIONS)
    for path in SOLUTIONS:
        original = nbformat.read(path, as_version=4)
        copy = nbformat.read(tmp_path / path.name, as_version=4)
        solved = [c for c in original.cells if "solution" in c.metadata.get("tags", [])]
        assert solved, f"{path.name}: no cell tagged 'solution'"
        assert [(c.cell_type, _source(c)) for c in copy.cells] == _expected(original), path.name
        assert sum(_source(c) == STUB for c in copy.cells) == len(solved), path.name
        assert not any(_source(s) in _source(c) for s in solved for c in copy.cells), path.name


def test_a_changed_original_changes_its_copy(tmp_path: Path):
    path = NOTEBOOKS[0]
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(path, work / path.name)
    _clean_into(tmp_path / "a", work / path.name)
    _clean_into(tmp_path / "b", work / path.name)
    first = (tmp_path / "a" / path.name).read_bytes()
    assert first == (tmp_path / "b" / path.name).read_bytes(), "two runs on one original must write the same file"

    nb = nbformat.read(work / path.name, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", []))
    code.source = _source(code) + "\nprint('a new line')"
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("## A new section\n\nwith prose"))
    nbformat.write(nb, work / path.name)
    _clean_into(tmp_path / "a", work / path.name)
    changed = nbformat.read(tmp_path / "a" / path.name, as_version=4)
    assert (tmp_path / "a" / path.name).read_bytes() != first
    assert [(c.cell_type, _source(c)) for c in changed.cells] == _expected(nb)
    assert ("markdown", "## A new section") in [(c.cell_type, _source(c)) for c in changed.cells]
    assert any(_source(c).endswith("print('a new line')") for c in changed.cells)
