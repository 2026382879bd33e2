"""Model cards for the shipped lite weights: what produced them, on what, and how well they do."""

from __future__ import annotations

import json
from pathlib import Path

from sparkles_lite.lite.eval import TASK_TITLES


def _metrics_table(results: dict | None) -> str:
    if not results:
        return "(not evaluated)"
    lines = ["| task | accuracy | 95% CI | n |", "|---|---|---|---|"]
    for task, r in results.items():
        lines.append(f"| {TASK_TITLES.get(task, task)} | {100 * r['accuracy']:.1f}% | "
                     f"[{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}] | {r['n']} |")
    return "\n".join(lines)


def write_model_card(path: str | Path, title: str, what: str, commands: list[str], data: str,
                     training: list[dict], results: dict | None, notes: str = "") -> Path:
    """MODEL_CARD.md beside the weights. `training`: one dict per run that contributed
    (steps, minutes, device, batch size, ...), in order."""
    path = Path(path)
    runs = "\n".join(f"- {json.dumps(t)}" for t in training)
    body = f"""# {title}

{what}

## How it was produced (the project's own commands)
```bash
{chr(10).join(commands)}
```

## Data
{data}

## Training runs
{runs}

## Held-out lite evaluation (images never seen in training)
{_metrics_table(results)}

{notes}
"""
    card = path / "MODEL_CARD.md"
    card.write_text(body)
    return card
