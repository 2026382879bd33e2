"""Check data files before training or evaluating on them, reporting every problem by location.

Works on the raw JSON (not the dataclasses) so that a broken file yields a list of precise
errors instead of the first exception. Layouts are described in `sparkles_lite.data.io`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sparkles_lite.data.images import ImageFolder, ImageLoadError
from sparkles_lite.data.io import DataFormatError, nlvr2_image_ids, parse_nlvr2_label, turn_from_dict
from sparkles_lite.data.schema import ASSISTANT, IMAGE_BLOCK, USER, placeholder_ids

FORMATS: tuple[str, ...] = ("dialogue", "eval", "bison", "nlvr2", "turns")
_MENTION_RE = re.compile(r"IMAGE#([A-Za-z0-9_\-]+)")


@dataclass
class ValidationError:
    """One problem: where it is (file, item index, message index when relevant) and what it is."""

    file: str
    dialogue: int | None
    message: int | None
    reason: str
    unit: str = "dialogue"  # what `dialogue` indexes: 'dialogue' or 'item'

    def __str__(self) -> str:
        where = [self.file]
        if self.dialogue is not None:
            where.append(f"{self.unit} {self.dialogue}")
        if self.message is not None:
            where.append(f"message {self.message}")
        return ": ".join([where[0], ", ".join(where[1:])] if len(where) > 1 else where) + f": {self.reason}"


@dataclass
class ValidationReport:
    file: str
    format: str
    n_items: int = 0
    image_ids: set[str] = field(default_factory=set)
    errors: list[ValidationError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        unit = "dialogues" if self.format in ("dialogue", "eval") else "items"
        return f"OK: {self.n_items} {unit}, {len(self.image_ids)} images"


class _ImageChecker:
    """Opens each image once per file and remembers the verdict."""

    def __init__(self, root: str | Path | None) -> None:
        self.folder = ImageFolder(root) if root is not None else None
        self._verdicts: dict[tuple[str, str | None], str | None] = {}

    def problem(self, image_id: str, filename: str | None = None) -> str | None:
        if self.folder is None:
            return None
        key = (image_id, filename)
        if key not in self._verdicts:
            try:
                self.folder.load(image_id, filename)
                self._verdicts[key] = None
            except ImageLoadError as e:
                self._verdicts[key] = str(e)
        return self._verdicts[key]


# ---------------------------------------------------------------- dialogues

def dialogue_errors(raw: Any, *, file: str = "<memory>", index: int = 0, image_root: str | Path | None = None,
                    images: _ImageChecker | None = None) -> list[ValidationError]:
    """Every problem in one `{"dialogue": [...]}` object; empty when it is valid."""
    images = images or _ImageChecker(image_root)
    errors: list[ValidationError] = []

    def err(message: int | None, reason: str) -> None:
        errors.append(ValidationError(file, index, message, reason))

    if not isinstance(raw, dict) or not isinstance(raw.get("dialogue"), list):
        err(None, "expected an object with a 'dialogue' list of messages")
        return errors
    messages = raw["dialogue"]
    if not messages:
        err(None, "the dialogue has no messages")
    elif len(messages) % 2:
        err(None, f"odd number of messages ({len(messages)}): a dialogue alternates user/assistant "
                  "and ends with an assistant answer")
    introduced: dict[str, int] = {}  # image id -> message that introduced it
    for j, m in enumerate(messages):
        if not isinstance(m, dict):
            err(j, f"expected a message object, got {type(m).__name__}")
            continue
        _check_role_and_content(m, j, err)
        _check_images(m, j, introduced, err)
    for image_id, j in introduced.items():
        problem = images.problem(image_id)
        if problem:
            err(j, problem)
    return errors


def _check_role_and_content(m: dict, j: int, err: Callable[[int | None, str], None]) -> None:
    expected = USER if j % 2 == 0 else ASSISTANT
    role = m.get("role")
    if role is None:
        err(j, "missing key 'role'")
    elif role != expected:
        if isinstance(role, str) and role.strip().lower() == expected:
            err(j, f"role {role!r} should be exactly {expected!r}")
        else:
            err(j, f"expected role {expected!r} (messages alternate user/assistant, starting with user), got {role!r}")
    content = m.get("content")
    if not isinstance(content, str):
        err(j, "missing or non-string 'content'")
    elif not content.strip():
        err(j, "empty content")


def _check_images(m: dict, j: int, introduced: dict[str, int], err: Callable[[int | None, str], None]) -> None:
    content = m.get("content") if isinstance(m.get("content"), str) else ""
    listed_raw = m.get("images") or []
    if not isinstance(listed_raw, list) or not all(isinstance(x, dict) and "image_id" in x for x in listed_raw):
        err(j, "'images' must be a list of {\"image_id\", \"caption\"} objects")
        return
    listed = [str(x["image_id"]) for x in listed_raw]
    placed = placeholder_ids(content)
    if m.get("role") == ASSISTANT or (isinstance(m.get("role"), str) and m["role"].strip().lower() == ASSISTANT):
        if listed:
            err(j, f"an assistant message carries images ({', '.join(listed)}); only user messages introduce images")
        for image_id in placed:
            err(j, f"an assistant message contains a placeholder IMAGE#{image_id}{IMAGE_BLOCK}")
    for image_id, n in Counter(listed).items():
        if n > 1:
            err(j, f"image id {image_id} is listed {n} times in images")
    for image_id, n in Counter(placed).items():
        if n > 1:
            err(j, f"IMAGE#{image_id} has {n} placeholders; one is expected where the image is introduced")
    if len(placed) != len(listed):
        err(j, f"{len(placed)} placeholder(s) {IMAGE_BLOCK} but {len(listed)} image(s) in images")
    for image_id in dict.fromkeys(listed):
        if image_id not in placed:
            err(j, f"image {image_id} is listed in images but has no placeholder IMAGE#{image_id}{IMAGE_BLOCK}")
        elif image_id in introduced:
            err(j, f"image {image_id} is introduced again (first introduced in message {introduced[image_id]})")
    for image_id in dict.fromkeys(placed):
        if image_id in listed:
            continue
        if image_id in introduced:
            err(j, f"placeholder for IMAGE#{image_id}, which message {introduced[image_id]} already introduced; "
                   "later mentions carry no placeholder")
        else:
            err(j, f"unknown image id {image_id}: placeholder IMAGE#{image_id}{IMAGE_BLOCK} "
                   "but no image with that id in images")
    if set(listed) == set(placed) and len(listed) == len(placed) and listed != placed:
        err(j, f"images are listed in the order {listed} but their placeholders appear in the order {placed}")
    for image_id in listed:
        introduced.setdefault(image_id, j)
    for image_id in dict.fromkeys(_MENTION_RE.findall(content)):
        if image_id not in introduced and image_id not in placed:
            err(j, f"unknown image id {image_id}: the text mentions IMAGE#{image_id}, which no message so far introduces")


# ---------------------------------------------------------------- per-layout item checks

def _check_dialogue_item(raw: Any, i: int, file: str, images: _ImageChecker, report: ValidationReport,
                         eval_ids: dict | None) -> list[ValidationError]:
    errors = dialogue_errors(raw, file=file, index=i, images=images)
    if isinstance(raw, dict) and isinstance(raw.get("dialogue"), list):
        for m in raw["dialogue"]:
            if isinstance(m, dict) and isinstance(m.get("images"), list):
                report.image_ids.update(str(x["image_id"]) for x in m["images"] if isinstance(x, dict) and "image_id" in x)
    if eval_ids is not None:
        if not isinstance(raw, dict) or "evaluation_id" not in raw:
            errors.append(ValidationError(file, i, None, "missing key 'evaluation_id'"))
        elif raw["evaluation_id"] in eval_ids:
            errors.append(ValidationError(file, i, None, f"evaluation_id {raw['evaluation_id']!r} repeats "
                                                         f"dialogue {eval_ids[raw['evaluation_id']]}"))
        else:
            eval_ids[raw["evaluation_id"]] = i
    return errors


def _missing_keys(raw: Any, keys: tuple[str, ...]) -> str | None:
    if not isinstance(raw, dict):
        return f"expected an object, got {type(raw).__name__}"
    missing = [k for k in keys if k not in raw]
    return f"missing key(s) {', '.join(missing)}" if missing else None


def _check_bison_item(raw: Any, i: int, file: str, images: _ImageChecker,
                      report: ValidationReport) -> list[ValidationError]:
    def e(reason: str) -> ValidationError:
        return ValidationError(file, i, None, reason, unit="item")

    problem = _missing_keys(raw, ("caption", "true_image_id", "image_candidates"))
    if problem:
        return [e(problem)]
    errors = []
    if not isinstance(raw["caption"], str) or not raw["caption"].strip():
        errors.append(e("empty caption"))
    cands = raw["image_candidates"]
    if not isinstance(cands, list) or len(cands) != 2 or not all(isinstance(c, dict) and "image_id" in c for c in cands):
        return errors + [e("image_candidates must be a list of two {\"image_id\", \"image_filename\"} objects")]
    ids = [str(c["image_id"]) for c in cands]
    report.image_ids.update(ids)
    if str(raw["true_image_id"]) not in ids:
        errors.append(e(f"true_image_id {raw['true_image_id']} is not among the candidates {ids}"))
    for c, image_id in zip(cands, ids):
        problem = images.problem(image_id, c.get("image_filename"))
        if problem:
            errors.append(e(problem))
    return errors


def _check_nlvr2_item(raw: Any, i: int, file: str, images: _ImageChecker,
                      report: ValidationReport) -> list[ValidationError]:
    def e(reason: str) -> ValidationError:
        return ValidationError(file, i, None, reason, unit="item")

    problem = _missing_keys(raw, ("identifier", "sentence", "label"))
    if problem:
        return [e(problem)]
    errors = []
    if not isinstance(raw["sentence"], str) or not raw["sentence"].strip():
        errors.append(e("empty sentence"))
    try:
        parse_nlvr2_label(raw["label"])
    except ValueError as ex:
        errors.append(e(str(ex)))
    try:
        ids = nlvr2_image_ids(raw["identifier"])
    except ValueError as ex:
        return errors + [e(str(ex))]
    report.image_ids.update(ids)
    for image_id in ids:
        problem = images.problem(image_id)
        if problem:
            errors.append(e(problem))
    return errors


def _check_turn_item(raw: Any, i: int, file: str, images: _ImageChecker,
                     report: ValidationReport) -> list[ValidationError]:
    def e(reason: str) -> ValidationError:
        return ValidationError(file, i, None, reason, unit="item")

    try:
        turn = turn_from_dict(raw, "turn")
    except (DataFormatError, TypeError, AttributeError) as ex:
        return [e(str(ex).removeprefix("turn: "))]
    errors = []
    placed = [image_id for m in turn.history for image_id in placeholder_ids(m.content)]
    if len(placed) != len(raw["tgt_imgs"]):
        errors.append(e(f"{len(placed)} placeholder(s) in the instruction but {len(raw['tgt_imgs'])} tgt_imgs"))
    if not turn.answer.strip():
        errors.append(e("empty answer"))
    for ref in turn.images:
        report.image_ids.add(ref.image_id)
        problem = images.problem(ref.image_id)
        if problem:
            errors.append(e(problem))
    return errors


# ---------------------------------------------------------------- files

def detect_format(item: Any) -> str | None:
    """Guess the layout from the keys of one item."""
    if not isinstance(item, dict):
        return None
    if "image_candidates" in item:
        return "bison"
    if "identifier" in item:
        return "nlvr2"
    if "tgt_imgs" in item:
        return "turns"
    if "dialogue" in item:
        return "eval" if "evaluation_id" in item else "dialogue"
    return None


def _read_items(path: Path) -> list[Any] | ValidationError:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except json.JSONDecodeError as e:
        where = f"line {e.lineno}, column {e.colno}"
        if path.suffix == ".jsonl":
            bad = next(n for n, line in enumerate(text.splitlines(), 1) if line.strip() and not _parses(line))
            where = f"line {bad}, column {e.colno}"
        return ValidationError(str(path), None, None, f"malformed JSON at {where}: {e.msg}")
    if not isinstance(data, list):
        return ValidationError(str(path), None, None, f"expected a JSON list at the top level, got {type(data).__name__}")
    return data


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def validate_file(path: str | Path, fmt: str = "auto", image_root: str | Path | None = None,
                  max_errors: int = 50) -> ValidationReport:
    """Validate any supported layout; stops collecting after `max_errors` errors."""
    path = Path(path)
    report = ValidationReport(str(path), fmt)
    if not path.is_file():
        report.errors.append(ValidationError(str(path), None, None, "file not found"))
        return report
    items = _read_items(path)
    if isinstance(items, ValidationError):
        report.errors.append(items)
        return report
    if fmt == "auto":
        fmt = detect_format(items[0]) if items else "dialogue"
        if fmt is None:
            keys = sorted(items[0]) if isinstance(items[0], dict) else type(items[0]).__name__
            report.errors.append(ValidationError(str(path), 0, None, f"cannot tell the layout from {keys}; "
                                                                     f"pass --format ({'|'.join(FORMATS)})"))
            return report
        report.format = fmt
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS} or 'auto'")
    try:
        images = _ImageChecker(image_root)
    except ImageLoadError as e:
        report.errors.append(ValidationError(str(path), None, None, str(e)))
        return report
    eval_ids: dict | None = {} if fmt == "eval" else None
    for i, raw in enumerate(items):
        if fmt in ("dialogue", "eval"):
            found = _check_dialogue_item(raw, i, str(path), images, report, eval_ids)
        else:
            check = {"bison": _check_bison_item, "nlvr2": _check_nlvr2_item, "turns": _check_turn_item}[fmt]
            found = check(raw, i, str(path), images, report)
        report.errors.extend(found)
        report.n_items += 1
        if len(report.errors) >= max_errors:
            del report.errors[max_errors:]
            break
    return report


def validate_dialogue_file(path: str | Path, image_root: str | Path | None = None,
                           max_errors: int = 50) -> list[ValidationError]:
    """Errors of a SparklesDialogue/SparklesEval file (empty list = valid)."""
    return validate_file(path, "dialogue", image_root, max_errors).errors
