#!/usr/bin/env python
"""How long each lesson takes a learner, from what can be counted (printed as JSON).

    python tools/study_times.py

Per lesson: the words of its prose and the lines of its code; per exercise task: the words of its
text and the lines of its reference solution (between `### BEGIN SOLUTION` and `### END SOLUTION`).
Minutes follow from stated rates, not from a stopwatch: prose read at READ_WPM words a minute, code
skimmed at CODE_LINES_PER_MIN lines a minute, each task's text read at READ_WPM, one minute per line
of its solution, plus TASK_OVERHEAD_MIN to run the check and fix a first mistake. WORKSHOP.md says how
the rates were chosen (by solving every exercise) and uses these numbers for its plan.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
READ_WPM = 150
CODE_LINES_PER_MIN = 20
TASK_OVERHEAD_MIN = 2
_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def _code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def tasks(solution: Path) -> list[dict]:
    """Each `## Task N` of a solution notebook: its words and the lines of its solution."""
    found: list[dict] = []
    for cell in nbformat.read(solution, as_version=4).cells:
        if cell.cell_type == "markdown" and re.match(r"## Task \d+", cell.source):
            found.append({"task": cell.source.splitlines()[0][3:], "words": len(cell.source.split()), "lines": 0})
        elif cell.cell_type == "code" and found:
            found[-1]["lines"] += sum(_code_lines(x) for x in _SOLUTION.findall(cell.source))
    for t in found:
        t["minutes"] = round(t["words"] / READ_WPM + t["lines"] + TASK_OVERHEAD_MIN, 1)
    return found


def lesson(notebook: Path) -> dict:
    cells = nbformat.read(notebook, as_version=4).cells
    prose = sum(len(c.source.split()) for c in cells if c.cell_type == "markdown")
    code = sum(len(c.source.splitlines()) for c in cells if c.cell_type == "code")
    solution = ROOT / "exercises" / "solutions" / notebook.name
    exercise = tasks(solution) if solution.exists() else []
    reading = prose / READ_WPM + code / CODE_LINES_PER_MIN
    return {"notebook": notebook.stem, "prose_words": prose, "code_lines": code,
            "reading_minutes": round(reading, 1), "tasks": exercise,
            "study_minutes": round(reading + sum(t["minutes"] for t in exercise), 1)}


def main() -> None:
    lessons = [lesson(p) for p in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))]
    print(json.dumps({"rates": {"read_wpm": READ_WPM, "code_lines_per_min": CODE_LINES_PER_MIN,
                                "minutes_per_solution_line": 1, "task_overhead_min": TASK_OVERHEAD_MIN},
                      "lessons": lessons,
                      "total_hours": round(sum(x["study_minutes"] for x in lessons) / 60, 1)}, indent=1))


if __name__ == "__main__":
    main()
