"""What every evaluation runner shares: the model interface and a resumable JSONL log.

Runners are model-agnostic: they receive an `AnswerFn`, so the lite models, a real checkpoint
and the fakes in tests all plug in the same way.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from sparkles_lite.data.schema import Message

# Conversation so far (ending with a user message holding IMAGE#<id><Img><ImageHere></Img>
# placeholders) and the images by id -> the assistant's reply.
AnswerFn = Callable[[list[Message], Mapping[str, Image.Image]], str]
SUMMARY = "summary.json"  # what every runner writes into its run folder at the end


@dataclass(frozen=True)
class ChoiceProtocol:
    """How a BISON/NLVR2 answer is decoded and whether an unparsable one is asked again."""

    name: str
    do_sample: bool
    temperature: float = 1.0
    top_p: float = 1.0
    reask: bool = False  # ask again until the reply parses (up to --max-attempts)

    def decoding(self) -> dict[str, Any]:
        return {"do_sample": self.do_sample, "temperature": self.temperature if self.do_sample else None,
                "top_p": self.top_p if self.do_sample else None}


CHOICE_PROTOCOLS: dict[str, ChoiceProtocol] = {
    # this project's default: reproducible, and a reply that does not answer is wrong
    "strict": ChoiceProtocol("strict", do_sample=False),
    # the official evaluation: its chat always samples (temperature 1.0, top_p 0.9) and evaluate.py
    # asks again while `extract_answer` finds no option
    "paper": ChoiceProtocol("paper", do_sample=True, temperature=1.0, top_p=0.9, reask=True),
}


def call_answer(answer_fn: AnswerFn, messages: list[Message], images: Mapping[str, Image.Image],
                attempt: int = 0) -> str:
    """Ask the model; pass `attempt` (0 = first ask) only to answer functions that accept it,
    so a retry can change decoding (e.g. sample with a new seed) while plain functions are simply
    called again."""
    if attempt and _accepts_attempt(answer_fn):
        reply = answer_fn(messages, images, attempt=attempt)  # type: ignore[call-arg]
    else:
        reply = answer_fn(messages, images)
    if not isinstance(reply, str):
        raise TypeError(f"answer function returned {type(reply).__name__}, expected str")
    return reply


def _accepts_attempt(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "attempt" or p.kind is p.VAR_KEYWORD for p in params)


class JsonlLog:
    """An append-only JSONL file of records keyed by `key`, flushed after every line.

    Opening it resumes a killed run: complete records are kept (`done`), a truncated or
    unreadable *last* line (the write the kill interrupted) is cut off so that item is redone.
    A bad line anywhere else is corruption and raises, rather than silently losing records.
    `final(record)` says whether a record settles its item: one that does not (a judgment that
    failed) is kept, but its item counts as not done, and the line logged for it later replaces it.
    """

    def __init__(self, path: str | Path, key: str = "id", final: Callable[[dict], bool] = lambda record: True):
        self.path = Path(path)
        self.key = key
        self.final = final
        self.done: dict[str, dict] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        *lines, tail = data.split(b"\n")  # `tail` is b"" unless the last write was cut short
        keep = len(data) - len(tail)
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                if i == len(lines) - 1 and not tail:
                    keep -= len(line) + 1  # interrupted last write: drop it, the item is redone
                    break
                raise ValueError(f"{self.path}: line {i + 1} is not valid JSON ({e}); "
                                 "refusing to resume from a corrupted log") from e
            if not isinstance(record, dict) or self.key not in record:
                raise ValueError(f"{self.path}: line {i + 1} has no {self.key!r} field")
            self.done[str(record[self.key])] = record
        if keep < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(keep)

    def __contains__(self, item_id: object) -> bool:
        """True when the item has a record that settles it."""
        record = self.done.get(str(item_id))
        return record is not None and self.final(record)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record and flush, so a kill loses at most the line being written."""
        item_id = str(record[self.key])
        if item_id in self:
            raise ValueError(f"{self.path}: record {item_id!r} is already logged")
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done[item_id] = record

    def records(self) -> list[dict]:
        """All records, in the order they were logged."""
        return list(self.done.values())


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename), so a summary is never half-written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
