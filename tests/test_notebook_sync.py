"""Every notebook and its paired percent script (jupytext.toml) hold the same inputs, and every student
exercise is what tools/make_exercises.py derives from its solution script.

Scripts are parsed with jupytext's own reader, notebooks with nbformat (tools/sync_notebooks.py). The
checker is shown to fail: one input changed in only one file of a pair, in a copy under tmp_path, is
reported with that file and cell.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import load_jupytext_config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_exercises as mx  # noqa: E402
import nb_colab  # noqa: E402
import sync_notebooks as sn  # noqa: E402

PAIRS = sn.pairs()
LESSON = "notebooks/05_finetune"
EXERCISE = "03_interleaved_tokens"


def test_every_notebook_is_paired():
    notebooks = sorted(p for g in nb_colab.NOTEBOOK_GLOBS for p in ROOT.glob(g))
    assert notebooks and sorted(nb for nb, _ in PAIRS) == notebooks
    assert all(script.exists() for _, script in PAIRS)
    assert not list((ROOT / "tools").glob("build_*.py")) and not (ROOT / "tools" / "nbbuild.py").exists(), (
        "the scripts are the one source of the notebooks: no builder")


def test_scripts_and_notebooks_agree():
    assert sn.problems() == []


@pytest.mark.parametrize("pair", PAIRS, ids=[str(nb.relative_to(ROOT)) for nb, _ in PAIRS])
def test_script_is_what_jupytext_writes(pair):
    """No churn: writing the script from the notebook reproduces it byte for byte (header, blank lines,
    `# %%` lines, escapes), and reading it back gives the notebook's inputs."""
    notebook, script = pair
    nb = nbformat.read(notebook, as_version=4)
    text = jupytext.writes(nb, fmt="py:percent", config=load_jupytext_config(str(script)))
    assert text == script.read_text(encoding="utf-8"), f"{script.relative_to(ROOT)}: run `make sync`"
    assert sn.inputs(jupytext.reads(text, fmt="py:percent")) == sn.inputs(nb)


# ---------------------------------------------------------------- the checker fails when it should

@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of one lesson pair, one solution pair and its student pair, with jupytext.toml."""
    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    for stem in (LESSON, f"exercises/solutions/{EXERCISE}", f"exercises/{EXERCISE}"):
        (tmp_path / stem).parent.mkdir(parents=True, exist_ok=True)
        for ext in (".ipynb", ".py"):
            shutil.copy(ROOT / f"{stem}{ext}", tmp_path / f"{stem}{ext}")
    assert sn.problems(tmp_path) == []
    return tmp_path


def _code_cell(nb, text: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and text in c.source)


def test_checker_reports_a_script_edited_alone(repo: Path):
    script = repo / f"{LESSON}.py"
    script.write_text(script.read_text(encoding="utf-8").replace("SEED = 0", "SEED = 1", 1), encoding="utf-8")
    number = _code_cell(nbformat.read(repo / f"{LESSON}.ipynb", as_version=4), "SEED = 0") + 1
    found = sn.problems(repo)
    assert len(found) == 1 and found[0].startswith(f"{LESSON}.py cell {number}: source differs"), found
    assert "'SEED = 1" in found[0] and "'SEED = 0" in found[0]


def test_checker_reports_a_tag_changed_in_the_notebook_alone(repo: Path):
    path = repo / f"{LESSON}.ipynb"
    nb = nbformat.read(path, as_version=4)
    i = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells[i].metadata["tags"] = []
    nbformat.write(nb, path)
    assert sn.problems(repo) == [f"{LESSON}.py cell {i + 1}: tags ['parameters'] vs [] in {LESSON}.ipynb"]


def test_checker_reports_a_changed_cell_type_and_a_missing_script(repo: Path):
    path = repo / f"{LESSON}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2] = nbformat.v4.new_markdown_cell(nb.cells[2].source)
    nbformat.write(nb, path)
    assert sn.problems(repo) == [f"{LESSON}.py cell 3: code cell, markdown in {LESSON}.ipynb"]
    (repo / f"{LESSON}.py").unlink()
    assert sn.problems(repo) == [f"{LESSON}.py: missing (run `make sync`)"]


def test_an_unreadable_script_is_one_line_naming_it(repo: Path):
    script = repo / f"{LESSON}.py"
    script.write_text(script.read_text(encoding="utf-8").replace("#   kernelspec:", "#   kernelspec: [", 1),
                      encoding="utf-8")
    found = sn.problems(repo)
    assert len(found) == 1 and found[0].startswith(f"{LESSON}.py: cannot read: ") and "\n" not in found[0], found
    with pytest.raises(sn.SyncError, match=f"^{script}: cannot sync: "):
        sn.sync([script])


def test_checker_reports_a_student_notebook_edited_by_hand(repo: Path):
    """Both student files edited alike (so the pair agrees): it differs from its solution's derivation."""
    stem = repo / "exercises" / EXERCISE
    nb = nbformat.read(stem.with_suffix(".ipynb"), as_version=4)
    i = _code_cell(nb, "raise NotImplementedError")
    nb.cells[i].source = nb.cells[i].source.replace("raise NotImplementedError  # your code here", "return text")
    nbformat.write(nb, stem.with_suffix(".ipynb"))
    jupytext.write(nb, stem.with_suffix(".py"), fmt="py:percent", config=load_jupytext_config(str(repo)))
    found = sn.problems(repo)
    assert len(found) == 1 and found[0].startswith(f"exercises/{EXERCISE}.ipynb cell {i + 1}: source differs"), found
    assert "make_exercises" in found[0]
    assert mx.main([str(repo / "exercises" / "solutions" / f"{EXERCISE}.py")]) == 0
    assert sn.problems(repo) == []


def test_sync_takes_an_edited_script_and_keeps_the_outputs(repo: Path):
    notebook, script = repo / f"{LESSON}.ipynb", repo / f"{LESSON}.py"
    before = nbformat.read(notebook, as_version=4)
    script.write_text(script.read_text(encoding="utf-8").replace("SEED = 0", "SEED = 1", 1), encoding="utf-8")
    later = notebook.stat().st_mtime + 5
    os.utime(script, (later, later))  # the newer file gives the inputs
    sn.sync([script])
    after = nbformat.read(notebook, as_version=4)
    assert sn.problems(repo) == []
    i = _code_cell(before, "SEED = 0")
    assert after.cells[i].source == before.cells[i].source.replace("SEED = 0", "SEED = 1", 1)
    assert [(c.get("id"), c.get("outputs")) for c in after.cells] == [(c.get("id"), c.get("outputs")) for c in before.cells]
    assert after.metadata == before.metadata


# ---------------------------------------------------------------- the student version of a solution

def _solution(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for kind, source, tags in cells:
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def test_student_version_of_marked_regions():
    solution = _solution(
        ("md", "# Exercises 08 · Demo — solutions\n\nIntro.", []),
        ("code", "HELPER = 1\n\n\ndef f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    return x + HELPER\n"
                 "    ### END SOLUTION\n\n\n### BEGIN SOLUTION\nTABLE = [1, 2]\n### END SOLUTION\n\n\n"
                 "def g(y):\n    ### BEGIN SOLUTION\n    return TABLE[y]\n    ### END SOLUTION", ["solution"]),
        ("code", "print('worked example')", ["solution", "slow"]),
        ("code", "check_f(f)", []),
    )
    student = mx.student_notebook(solution, "demo.py")
    assert [c.source for c in student.cells] == [
        "# Exercises 08 · Demo\n\nIntro.",
        "HELPER = 1\n\n\ndef f(x):\n    \"\"\"Doc.\"\"\"\n    raise NotImplementedError  # your code here\n\n\n"
        "def g(y):\n    raise NotImplementedError  # your code here",
        "# your code here",
        "check_f(f)",
    ]
    assert [c.metadata.get("tags") for c in student.cells] == [None, None, ["slow"], None]
    assert solution.cells[1].metadata["tags"] == ["solution"] and "TABLE = [1, 2]" in solution.cells[1].source


@pytest.mark.parametrize("source, tags, message", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", ["solution"], "demo.py cell 1: ### BEGIN SOLUTION without"),
    ("def f():\n    return 1\n    ### END SOLUTION", ["solution"], "demo.py cell 1, line 3: ### END SOLUTION without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", ["solution"], "demo.py cell 1, line 2: "),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", [], "demo.py cell 1: solution markers"),
])
def test_misplaced_markers_are_named(source, tags, message):
    with pytest.raises(mx.MarkerError, match="^" + message.replace("(", r"\(")):
        mx.student_notebook(_solution(("code", source, tags)), "demo.py")


# ---------------------------------------------------------------- the Colab cell

def test_colab_check_lists_a_notebook_without_it_and_insert_restores_both_files(repo: Path, capsys):
    notebook, script = repo / f"{LESSON}.ipynb", repo / f"{LESSON}.py"
    nb = nbformat.read(notebook, as_version=4)
    original = script.read_text(encoding="utf-8"), sn.inputs(nb)
    assert nb_colab.main(["--check", str(notebook)]) == 0
    del nb.cells[[i for i, c in enumerate(nb.cells) if nb_colab.is_colab_cell(c)][0]]
    nbformat.write(nb, notebook)
    sn.sync([notebook])
    assert "colab-setup" not in script.read_text(encoding="utf-8")
    capsys.readouterr()
    assert nb_colab.main(["--check", str(notebook)]) == 1
    assert f"missing or stale set-up cell: {notebook}" in capsys.readouterr().out
    assert nb_colab.main(["--insert", str(notebook)]) == 0
    restored = script.read_text(encoding="utf-8"), sn.inputs(nbformat.read(notebook, as_version=4))
    assert restored == original  # the cell itself comes back fresh: no execution count
