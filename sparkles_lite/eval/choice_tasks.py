"""BISON and NLVR2: both images in one prompt as IMAGE#1 and IMAGE#2, as in the paper.

Two protocols (`protocols.CHOICE_PROTOCOLS`): `strict` (the default: greedy decoding, asked once, an
unparsable reply counts as wrong) and `paper` (the official evaluation: sampled at temperature 1.0,
top_p 0.9, and re-asked until the reply parses; here capped by `max_attempts`, after which it counts
as wrong). The runner logs one JSONL line per item as it goes, with every attempt, and resumes a
killed run; the summary reports unparsable replies and attempts apart from the accuracy, so a re-ask
never hides behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from sparkles_lite.data.schema import USER, ImageRef, Message
from sparkles_lite.eval import prompts
from sparkles_lite.eval.extraction import Extraction, extract_bison, extract_nlvr2
from sparkles_lite.eval.protocols import CHOICE_PROTOCOLS, SUMMARY, AnswerFn, JsonlLog, call_answer, write_json
from sparkles_lite.eval.stats import accuracy_by_class, wilson_ci

ImageLookup = Callable[[str], Image.Image]

# task -> (its two options, how to read the chosen one out of a reply)
CHOICE_TASKS: dict[str, tuple[tuple[str, str], Callable[[str], Extraction]]] = {
    "bison": (prompts.BISON_CHOICES, extract_bison),
    "nlvr2": (prompts.NLVR2_CHOICES, extract_nlvr2),
}
PREDICTIONS = "predictions.jsonl"


@dataclass
class ChoiceItem:
    """One two-image question. `images` are PIL images or ids for the runner's image lookup,
    in the order they become IMAGE#1 and IMAGE#2."""

    item_id: str
    prompt: str
    images: list[Image.Image | str]
    gold: str
    meta: dict = field(default_factory=dict)


def bison_item(item_id: str, caption: str, images: list[Image.Image | str], gold: str,
               style: str = "lite") -> ChoiceItem:
    """A BISON item; `gold` is 'IMAGE#1' or 'IMAGE#2' (the position of the true image)."""
    return ChoiceItem(str(item_id), prompts.bison_prompt(caption, style), list(images), gold, {"caption": caption})


def nlvr2_item(item_id: str, statement: str, images: list[Image.Image | str], label: bool | str,
               style: str = "lite") -> ChoiceItem:
    """An NLVR2 item; `label` is a bool or 'TRUE'/'FALSE' (the left image is IMAGE#1)."""
    gold = label.upper() if isinstance(label, str) else prompts.NLVR2_CHOICES[0 if label else 1]
    return ChoiceItem(str(item_id), prompts.nlvr2_prompt(statement, style), list(images), gold,
                      {"statement": statement})


def run_choice_task(task: str, items: Iterable[ChoiceItem], answer_fn: AnswerFn, out_dir: str | Path, *,
                    image_lookup: ImageLookup | None = None, protocol: str = "strict", max_attempts: int = 10,
                    seed: int | None = None, progress: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Run `task` ('bison' or 'nlvr2') over `items`, appending to out_dir/predictions.jsonl and
    writing out_dir/summary.json; items already logged are skipped. Returns the summary.

    `protocol` decides the re-asking (strict: once; paper: until the reply parses, at most
    `max_attempts` times); decoding belongs to the answer function, which the CLI builds from the
    same protocol (`protocols.CHOICE_PROTOCOLS`). `seed` is recorded.
    """
    if task not in CHOICE_TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(CHOICE_TASKS)}")
    if protocol not in CHOICE_PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {sorted(CHOICE_PROTOCOLS)}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    attempts = max_attempts if CHOICE_PROTOCOLS[protocol].reask else 1
    choices, extract = CHOICE_TASKS[task]
    items = list(items)
    _check_items(items, choices)
    out_dir = Path(out_dir)
    log = JsonlLog(out_dir / PREDICTIONS)
    other = {r.get("protocol", "strict") for r in log.records()} - {protocol}
    if other:
        raise ValueError(f"{out_dir / PREDICTIONS} holds answers from the {', '.join(sorted(other))} protocol; "
                         f"use another --out for --protocol {protocol}")
    for k, item in enumerate(items):
        if item.item_id in log:
            continue
        record = {**_run_item(item, answer_fn, extract, image_lookup, attempts), "protocol": protocol}
        log.append(record)
        if progress:
            progress(k, record)
    wanted = {item.item_id for item in items}
    summary = summarise(task, [r for r in log.records() if r["id"] in wanted], seed=seed, protocol=protocol,
                        max_attempts=attempts)
    write_json(out_dir / SUMMARY, summary)
    return summary


def _check_items(items: list[ChoiceItem], choices: tuple[str, str]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.item_id in seen:
            raise ValueError(f"duplicate item id {item.item_id!r}: resuming needs unique ids")
        seen.add(item.item_id)
        if item.gold not in choices:
            raise ValueError(f"item {item.item_id}: gold {item.gold!r} is not one of {choices}")
        if len(item.images) != 2:
            raise ValueError(f"item {item.item_id}: expected 2 images, got {len(item.images)}")


def _resolve(image: Image.Image | str, image_lookup: ImageLookup | None, item_id: str) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if image_lookup is None:
        raise ValueError(f"item {item_id}: image {image!r} is an id but no image_lookup was given")
    return image_lookup(image)


def _run_item(item: ChoiceItem, answer_fn: AnswerFn, extract: Callable[[str], Extraction],
              image_lookup: ImageLookup | None, max_attempts: int) -> dict[str, Any]:
    images = {str(k + 1): _resolve(img, image_lookup, item.item_id) for k, img in enumerate(item.images)}
    messages = [Message(USER, item.prompt, [ImageRef("1"), ImageRef("2")])]
    responses: list[str] = []
    for attempt in range(max_attempts):
        responses.append(call_answer(answer_fn, messages, images, attempt))
        extraction = extract(responses[-1])
        if extraction.choice is not None:
            break
    return {
        "id": item.item_id, "prompt": item.prompt, "response": responses[-1],
        "extracted": extraction.choice, "reason": extraction.reason, "gold": item.gold,
        "correct": extraction.choice == item.gold, "attempts": len(responses),
        "earlier_responses": responses[:-1],
        "image_ids": [img if isinstance(img, str) else None for img in item.images],
        "meta": item.meta,
    }


def summarise(task: str, records: list[dict], *, seed: int | None = None, protocol: str = "strict",
              max_attempts: int = 1) -> dict[str, Any]:
    """Accuracy with its Wilson interval and per gold answer; unparsable replies count as wrong and are also
    reported on their own, with the accuracy over parsable replies and the attempts next to it."""
    n = len(records)
    correct = sum(r["correct"] for r in records)
    parsed = [r for r in records if r["extracted"] is not None]
    asks = sum(r["attempts"] for r in records)
    return {
        "task": task, "n": n, "correct": correct,
        "accuracy": correct / n if n else None,
        "ci95": list(wilson_ci(correct, n)) if n else None,
        "unparsable": n - len(parsed),
        "accuracy_parsable": (sum(r["correct"] for r in parsed) / len(parsed)) if parsed else None,
        "per_class": accuracy_by_class([r["gold"] for r in records], [r["correct"] for r in records]),
        "protocol": protocol, **CHOICE_PROTOCOLS[protocol].decoding(),
        "max_attempts": max_attempts,
        "retried": sum(r["attempts"] > 1 for r in records),
        "asks": asks, "mean_attempts": asks / n if n else None,
        "seed": seed,
    }
