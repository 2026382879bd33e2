"""The top-level documents: a README short enough to be read (words counted as `wc -w` does), and
every relative link in the Markdown files pointing at a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_MAX_WORDS = 1200
DOCS = sorted([*ROOT.glob("*.md"), *ROOT.glob("exercises/*.md"), *ROOT.glob("sparkles_lite/samples/**/*.md")])
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def words(text: str) -> int:
    return len(text.split())


def test_words_counts_like_wc():
    assert words("| a | b |\n`make demo`  # builds\n") == 9


def test_readme_is_short():
    n = words((ROOT / "README.md").read_text(encoding="utf-8"))
    assert n <= README_MAX_WORDS, f"README.md has {n} words; at most {README_MAX_WORDS} (move detail to RESULTS.md, CONTRIBUTING.md, ...)"


def anchor(heading: str) -> str:
    """GitHub's id for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_anchor_is_githubs():
    assert anchor('Troubleshooting') == "troubleshooting"
    assert anchor("How the times were measured") == "how-the-times-were-measured"
    assert anchor("Without Wi-Fi: a USB stick") == "without-wi-fi-a-usb-stick"


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_relative_links_resolve(doc: Path):
    broken = []
    for target in _LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: ...
        path, _, fragment = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif fragment and file.suffix == ".md":
            headings = {anchor(h) for h in re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), re.MULTILINE)}
            if fragment not in headings:
                broken.append(f"{target}: no heading #{fragment} in {file.name}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


def _results_tables():
    import importlib.util

    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "tools" / "results_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_tables_agree_with_results_json(capsys):
    assert _results_tables().main(["--check"]) == 0, capsys.readouterr().out


def test_a_stale_or_unknown_generated_block_is_caught():
    tables = _results_tables()
    text = "x\n<!-- BEGIN GENERATED: t -->\n| 1 |\n<!-- END GENERATED: t -->\ny\n"
    new, changed = tables.fill(text, {"t": "| 2 |"})
    assert changed == ["t"] and new == text.replace("| 1 |", "| 2 |")
    assert tables.fill(new, {"t": "| 2 |"}) == (new, [])
    with pytest.raises(KeyError, match="unknown generated block 't'"):
        tables.fill(text, {})
