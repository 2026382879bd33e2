"""Write the results tables of README.md and RESULTS.md from sparkles_lite/assets/lite/results.json.

Each table sits between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`; this
rewrites what is between them and nothing else, with the same functions `eval --task lite-table` prints
with, so a number in the docs is never typed by hand.

    python tools/results_tables.py           # rewrite the blocks
    python tools/results_tables.py --check   # exit 1 naming each stale block (tests/test_docs.py)
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from sparkles_lite.lite.eval import MAJORITY_ROW, TASK_TITLES, baselines, format_table, verdicts
from sparkles_lite.lite.table import RESULTS_FILE, format_sparkles_eval, lite_numbers, load_results, paper_comparison

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md", ROOT / "RESULTS.md")
STAGE2, STAGE1, CONTROL, ORACLE = ("SparklesChat-lite (stage 2)", "MiniGPT-4-lite (stage 1)",
                                   "control (stage 1 + matched caption steps)", "text oracle (LM reads true scene words)")
# The lite tier's targets, set by the training issue: (row, task, ">=" or "<=", percent).
TARGETS = [(STAGE2, "bison", ">=", 85), (STAGE2, "nlvr2", ">=", 80), (STAGE2, "dialogue", ">=", 90),
           (STAGE2, "select", ">=", 95), (STAGE1, "bison", "<=", 60), (STAGE1, "nlvr2", "<=", 60),
           *[(ORACLE, task, ">=", 98) for task in TASK_TITLES]]
_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: ([\w-]+) -->\n)(.*?)(<!-- END GENERATED: \2 -->)", re.S)


def targets_table(rows: dict[str, dict[str, dict]]) -> str:
    lines = ["| target | shipped [95% CI] | met |", "|---|---|---|"]
    for row, task, op, goal in TARGETS:
        r = rows[row][task]
        value = 100 * r["accuracy"]
        met = value >= goal if op == ">=" else value <= goal
        lines.append(f"| {row.split(' (')[0]}, {TASK_TITLES[task]} {op} {goal}% | {value:.1f} "
                     f"[{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}] | {'yes' if met else 'no'} |")
    return "\n".join(lines)


def blocks(results: dict) -> dict[str, str]:
    """Every generated block's Markdown, by name. A results.json written before the image-blind majority
    row existed gets it here for the balanced two-option tasks only (`lite_eval.baselines`, no model):
    their answer is the bare option, so no later change of the scorer moves it; the other tasks wait for
    results.json to be rebuilt, so one table never mixes two scorers."""
    tasks = tuple(results["tasks"])
    if MAJORITY_ROW not in results["rows"]:
        choice = tuple(t for t in tasks if t in ("bison", "nlvr2"))
        results = {**results, "rows": {**results["rows"], MAJORITY_ROW: baselines(results["n"], tasks=choice)["majority"]}}
    rows = results["rows"]
    said = [line for base in (STAGE1, CONTROL) for line in
            [f"- against {base.split(' (')[0]}:", *(f"  - {v}" for v in verdicts(rows, STAGE2, base, tasks))]]
    return {"lite-table": format_table(rows, tasks), "sparkles-eval-table": format_sparkles_eval(results),
            "paper-table": paper_comparison(lite_numbers(results)),
            "verdicts": "\n".join(said), "targets": targets_table(rows)}


def fill(text: str, generated: dict[str, str]) -> tuple[str, list[str]]:
    """The text with every block rewritten, and the names of the blocks that changed."""
    changed = []

    def rewrite(m: re.Match) -> str:
        name = m.group(2)
        if name not in generated:
            raise KeyError(f"unknown generated block {name!r} (known: {', '.join(generated)})")
        body = generated[name] + "\n"
        if m.group(3) != body:
            changed.append(name)
        return m.group(1) + body + m.group(4)

    return _BLOCK.sub(rewrite, text), changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is stale")
    p.add_argument("--results", type=Path, default=RESULTS_FILE)
    args = p.parse_args(argv)
    generated = blocks(load_results(args.results))
    stale = []
    for doc in DOCS:
        text, changed = fill(doc.read_text(encoding="utf-8"), generated)
        stale += [f"{doc.name}: {name}" for name in changed]
        if changed and not args.check:
            doc.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("stale generated tables (run python tools/results_tables.py): " + ", ".join(stale))
        return 1
    print(("rewrote " + ", ".join(stale)) if stale else "every generated table is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
