"""The set-up cell at the top of every notebook (tools/nb_colab.py) and the repository links in the docs.

The cell must never fail: already installed -> nothing; a wheel beside the notebook -> pip installs it;
a published REPO_URL -> pip installs from git; otherwise, or when pip fails, one message and no error.
The cases run the cell's real source with pip replaced by a recorder; one runs it unmocked in a fresh
interpreter that cannot import sparkles_lite.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import nb_colab  # noqa: E402

UNPUBLISHED = "https://github.com/REPO_OWNER/sparkles-lite"
PUBLISHED = "https://github.com/someone/sparkles-lite"
WHEEL = "sparkles_lite-0.1.0-py3-none-any.whl"


def run_cell(url: str, folder: Path, monkeypatch, installed: bool = False, pip_rc: int = 0) -> list[list[str]]:
    """Execute the cell in `folder` as a kernel without (or with) sparkles_lite; the pip commands it ran."""
    calls: list[list[str]] = []
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        if name == "sparkles_lite":
            return real_find_spec(name) if installed else None
        return real_find_spec(name, *args)

    def fake_run(cmd, *args, **kwargs):
        calls.append(list(cmd))
        return SimpleNamespace(returncode=pip_rc)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.chdir(folder)
    exec(compile(nb_colab.colab_source(url), "set-up cell", "exec"), {"__name__": "__main__"})
    return calls


def test_installed_does_nothing(tmp_path, monkeypatch, capsys):
    (tmp_path / WHEEL).touch()
    assert run_cell(PUBLISHED, tmp_path, monkeypatch, installed=True) == []
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("url", [UNPUBLISHED, PUBLISHED])
def test_a_wheel_beside_the_notebook_is_installed_first(url, tmp_path, monkeypatch, capsys):
    (tmp_path / WHEEL).touch()
    assert run_cell(url, tmp_path, monkeypatch) == [[sys.executable, "-m", "pip", "install", "-q", WHEEL]]
    assert capsys.readouterr().out == ""


def test_a_wheel_one_folder_up_is_found(tmp_path, monkeypatch):
    (tmp_path / WHEEL).touch()
    (tmp_path / "notebooks").mkdir()
    assert run_cell(UNPUBLISHED, tmp_path / "notebooks", monkeypatch)[0][-1] == f"../{WHEEL}"


def test_a_published_url_is_installed_from_git(tmp_path, monkeypatch):
    assert run_cell(PUBLISHED, tmp_path, monkeypatch) == [
        [sys.executable, "-m", "pip", "install", "-q", f"sparkles-lite @ git+{PUBLISHED}"]]


def test_nothing_to_install_from_prints_what_to_do(tmp_path, monkeypatch, capsys):
    assert run_cell(UNPUBLISHED, tmp_path, monkeypatch) == []
    out = capsys.readouterr().out
    assert out.startswith("sparkles-lite is not installed.") and "pip install" in out


def test_pip_failing_prints_one_message_and_raises_nothing(tmp_path, monkeypatch, capsys):
    calls = run_cell(PUBLISHED, tmp_path, monkeypatch, pip_rc=1)
    assert len(calls) == 1
    assert capsys.readouterr().out.startswith(f"pip could not install sparkles-lite @ git+{PUBLISHED}")


def test_unpublished_cell_in_a_fresh_interpreter_prints_its_message(tmp_path):
    """No mocks: `python -I -S` sees neither the venv's site-packages nor the checkout."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", nb_colab.colab_source(UNPUBLISHED)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sparkles-lite is not installed."), done.stdout
    assert done.stderr == ""


def test_the_cell_fits_a_github_code_cell():
    for url in (UNPUBLISHED, PUBLISHED):
        assert max(len(line) for line in nb_colab.colab_source(url).splitlines()) <= 95


def test_the_cell_names_the_address_only_once_published():
    assert 'REPO_URL = ""' in nb_colab.colab_source(UNPUBLISHED)
    assert f'REPO_URL = "{PUBLISHED}"' in nb_colab.colab_source(PUBLISHED)


def test_fill_links_rewrites_this_repository_only():
    text = ("[open](https://colab.research.google.com/github/REPO_OWNER/sparkles-lite/blob/main/notebooks/00_tour.ipynb)\n"
            "git clone https://github.com/REPO_OWNER/sparkles-lite.git\n"
            'pip install "sparkles-lite @ git+https://github.com/REPO_OWNER/sparkles-lite"\n'
            "the paper's code: https://github.com/HYPJUDY/Sparkles and https://github.com/x/sparkles-lite-fork\n"
            "end of a sentence: https://github.com/REPO_OWNER/sparkles-lite.\n")
    assert nb_colab.fill_links(text, PUBLISHED) == (
        "[open](https://colab.research.google.com/github/someone/sparkles-lite/blob/main/notebooks/00_tour.ipynb)\n"
        "git clone https://github.com/someone/sparkles-lite.git\n"
        'pip install "sparkles-lite @ git+https://github.com/someone/sparkles-lite"\n'
        "the paper's code: https://github.com/HYPJUDY/Sparkles and https://github.com/x/sparkles-lite-fork\n"
        "end of a sentence: https://github.com/someone/sparkles-lite.\n")


def test_the_address_lives_in_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[project.urls]\nRepository = "https://gitlab.com/a/b"\n')
    with pytest.raises(nb_colab.UrlError, match=r"^pyproject.toml: \[project.urls\] Repository must be"):
        nb_colab.repo_url(tmp_path)


def test_every_notebook_and_doc_is_current():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "nb_colab.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
