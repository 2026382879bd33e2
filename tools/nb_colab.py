#!/usr/bin/env python
"""The set-up cell that opens every notebook and exercise notebook, and every link to the repository.

    python tools/nb_colab.py --insert    # the cell into every committed notebook, the links into the docs
    python tools/nb_colab.py --check     # exit 1 if a notebook lacks the current cell or a link is stale

The repository's address lives in one place, `[project.urls] Repository` of pyproject.toml. While its
owner is the placeholder REPO_OWNER the project is unpublished: the cell gets `REPO_URL = ""` and the
Colab links keep the placeholder. To publish, set the address there and run `--insert`.

The cell makes `import sparkles_lite` work in a kernel that lacks it (Colab, a fresh Jupyter) and does
nothing where it works already (the venv, the tests, papermill). It installs, first that applies: a
`sparkles_lite-*.whl` beside the notebook (or one folder up: an instructor's USB stick), the repository
at REPO_URL; otherwise, or when pip fails (no internet), it prints what to do and raises nothing.

`--insert` puts the current cell into the committed notebooks by editing their JSON (nothing is
executed, every other cell and output is kept), then syncs each edited notebook's script
(tools/sync_notebooks.py); it is idempotent: a cell tagged `colab-setup` is updated in place, never
duplicated. In the Markdown files (DOC_GLOBS) it rewrites every Colab link and every github.com link to
a repository of this name.

The cell is plain Python (`subprocess` + `sys.executable -m pip`), not IPython's `!pip`:
tests/test_exercises.py executes the exercise notebooks' code cells with Python's own `compile`,
where `!pip` is a SyntaxError even inside an `if` that never runs. On Colab both install the same way.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_OWNER = "REPO_OWNER"
TAG = "colab-setup"
CELL_ID = "colab-setup"  # fixed, so rebuilt and inserted notebooks hold the very same cell
NOTEBOOK_GLOBS = ("notebooks/*.ipynb", "exercises/*.ipynb", "exercises/solutions/*.ipynb")
DOC_GLOBS = ("*.md", "exercises/*.md", "sparkles_lite/samples/*.md", "benchmarks/*.md")
_GITHUB = re.compile(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


class UrlError(ValueError):
    """pyproject.toml names no usable repository address; the message says what to write."""


def repo_url(root: Path = ROOT) -> str:
    """`[project.urls] Repository` of pyproject.toml: https://github.com/<owner>/<name>."""
    urls = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"].get("urls", {})
    url = urls.get("Repository", "")
    if not _GITHUB.match(url):
        raise UrlError(f"pyproject.toml: [project.urls] Repository must be https://github.com/<owner>/<name> "
                       f"(Colab opens GitHub notebooks only), got {url!r}")
    return url.rstrip("/")


def is_published(url: str) -> bool:
    return _GITHUB.match(url).group(1) != PLACEHOLDER_OWNER


def colab_prefix(url: str) -> str:
    """Where Colab opens this repository's files: append a path such as notebooks/00_tour.ipynb."""
    return url.replace("https://github.com/", "https://colab.research.google.com/github/") + "/blob/main/"


def colab_source(url: str) -> str:
    """The set-up cell's code for a repository address (`REPO_URL = ""` while unpublished); its lines
    fit in 95 characters, what GitHub shows of a code cell without scrolling."""
    repo = (f'REPO_URL = "{url}"' if is_published(url)
            else 'REPO_URL = ""  # unpublished: CONTRIBUTING.md, "Publishing", fills this in')
    return SETUP_CELL.replace('REPO_URL = ""', repo, 1).strip()


SETUP_CELL = """
# Set-up: installs sparkles-lite if this kernel lacks it (Colab, a new Jupyter), else nothing.
import glob, importlib, importlib.util, subprocess, sys
REPO_URL = ""
if importlib.util.find_spec("sparkles_lite") is None:
    wheels = sorted(glob.glob("sparkles_lite-*.whl") + glob.glob("../sparkles_lite-*.whl"))
    source = wheels[-1] if wheels else f"sparkles-lite @ git+{REPO_URL}" if REPO_URL else None
    if source is None:
        print("sparkles-lite is not installed. Put sparkles_lite-*.whl beside this\\n"
              "notebook (Colab: the Files panel) and run this cell again, or\\n"
              "pip install <the sparkles-lite folder>")
    elif subprocess.run([sys.executable, "-m", "pip", "install", "-q", source]).returncode:
        print(f"pip could not install {source} (see above). Offline?\\n"
              "WORKSHOP.md, 'Without Wi-Fi', says what to bring")
    else:
        importlib.invalidate_caches()
"""


def colab_cell(url: str) -> nbformat.NotebookNode:
    """A fresh code cell (no outputs), tagged `colab-setup`; goes right after the title markdown."""
    cell = nbformat.v4.new_code_cell(colab_source(url), metadata={"tags": [TAG]})
    cell["id"] = CELL_ID
    return cell


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def is_colab_cell(cell) -> bool:
    return cell.cell_type == "code" and TAG in cell.get("metadata", {}).get("tags", [])


def insert(nb: nbformat.NotebookNode, url: str) -> bool:
    """Put the current set-up cell right after the first (title) markdown cell; True if `nb` changed."""
    existing = [i for i, c in enumerate(nb.cells) if is_colab_cell(c)]
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    want = title + 1
    if existing == [want] and _source(nb.cells[want]) == colab_source(url):
        return False
    for i in reversed(existing):
        del nb.cells[i]
    if nb.nbformat_minor < 5 and nb.nbformat == 4:  # cell ids need nbformat 4.5
        nb.nbformat_minor = 5
    cell = colab_cell(url)
    if any(c.get("id") == CELL_ID for c in nb.cells):  # ids are unique within a notebook
        cell["id"] = nbformat.v4.new_code_cell().id
    nb.cells.insert(want, cell)
    return True


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted(p for g in NOTEBOOK_GLOBS for p in root.glob(g))


def docs(root: Path = ROOT) -> list[Path]:
    return sorted(p for g in DOC_GLOBS for p in root.glob(g))


def fill_links(text: str, url: str) -> str:
    """Every Colab link (any owner, repository, branch) and every github.com link to a repository named
    like this one (any owner; other repositories, e.g. the paper's, untouched) made to point at `url`."""
    owner_name = url.removeprefix("https://github.com/")
    name = owner_name.split("/")[1]
    text = re.sub(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w.-]+/",
                  colab_prefix(url), text)
    end = r"(?=(?:\.git)?(?:[^\w.-]|\.(?!\w)|$))"  # the name ends here: not sparkles-lite-fork
    return re.sub(rf"https://github\.com/[\w.-]+/{re.escape(name)}{end}", url, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--insert", action="store_true", help="refresh the cell in the notebooks, the links in the docs")
    mode.add_argument("--check", action="store_true", help="exit 1 if a cell or a link is not current")
    ap.add_argument("paths", nargs="*", type=Path,
                    help=f"notebooks only (default: {', '.join(NOTEBOOK_GLOBS)}, and the docs {', '.join(DOC_GLOBS)})")
    args = ap.parse_args(argv)
    try:
        url = repo_url()
    except UrlError as exc:
        print(f"nb_colab: {exc}", file=sys.stderr)
        return 1
    paths = args.paths or notebooks()
    if args.insert:
        from sync_notebooks import SyncError, sync

        try:
            sync(paths)  # an edited script first gives its notebook the inputs the cell goes into
        except SyncError as exc:
            print(f"nb_colab: {exc}", file=sys.stderr)
            return 1
    stale = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        changed = insert(nb, url)
        if args.check:
            if changed:
                stale += 1
                print(f"missing or stale set-up cell: {path}")
            continue
        if changed:
            nbformat.validate(nb)
            nbformat.write(nb, path)
            sync([path])
            print(f"inserted set-up cell: {path}")
    for doc in [] if args.paths else docs():
        text = doc.read_text(encoding="utf-8")
        filled = fill_links(text, url)
        if filled == text:
            continue
        if args.check:
            stale += 1
            print(f"links not pointing at {url}: {doc}")
        else:
            doc.write_text(filled, encoding="utf-8")
            print(f"filled links: {doc}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
