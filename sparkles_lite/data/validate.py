"""Check data files before training or evaluating on them, reporting every problem by location.

The rules for an item are its layout's reader in `sparkles_lite.data.io` (the same one training and
evaluation read with); here each item goes through that reader and every problem it finds is listed
with its place, instead of stopping at the first. Added on top: the image files (each opens) and the
checks across items (an evaluation id used twice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkles_lite.data.images import ImageFolder, ImageLoadError
from sparkles_lite.data.io import LAYOUTS, DataFormatError, dialogue_problems, file_layout, load_items, read_item

FORMATS: tuple[str, ...] = tuple(LAYOUTS)


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
    warnings: list[ValidationError] = field(default_factory=list)  # worth a look; the file is still usable

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        unit = "dialogues" if LAYOUTS.get(self.format) and LAYOUTS[self.format].unit == "dialogue" else "items"
        note = f" ({len(self.warnings)} warning(s))" if self.warnings else ""
        return f"OK: {self.n_items} {unit}, {len(self.image_ids)} images{note}"


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


def _check_item(layout: str, raw: Any, i: int, file: str, images: _ImageChecker,
                report: ValidationReport) -> tuple[Any, list[ValidationError]]:
    """(the item read, or None; its errors): the reader's problems, then its images."""
    unit = LAYOUTS[layout].unit
    if unit == "dialogue":
        report.warnings += [ValidationError(file, i, p.message, p.reason, unit) for p in dialogue_problems(raw)[1]]
    try:
        obj = read_item(layout, raw, f"{file}: {unit} {i}")
    except DataFormatError as e:
        return None, [ValidationError(file, i, p.message, p.reason, unit) for p in e.problems]
    errors = []
    for use in LAYOUTS[layout].images(obj):
        report.image_ids.add(use.image_id)
        problem = images.problem(use.image_id, use.filename)
        if problem:
            errors.append(ValidationError(file, i, use.message, problem, unit))
    return obj, errors


def dialogue_errors(raw: Any, *, file: str = "<memory>", index: int = 0, image_root: str | Path | None = None,
                    images: _ImageChecker | None = None) -> list[ValidationError]:
    """Every problem in one `{"dialogue": [...]}` object (its images too, given a folder); empty when valid."""
    report = ValidationReport(file, "dialogue")
    _, errors = _check_item("dialogue", raw, index, file, images or _ImageChecker(image_root), report)
    return errors


def _repeat_errors(layout: str, items: list[tuple[int, Any, Any]], file: str) -> list[ValidationError]:
    """An evaluation set logs results under each item's id: two items with one id would overwrite."""
    run_id = LAYOUTS[layout].run_id
    unit = LAYOUTS[layout].unit
    seen: dict[str, int] = {}
    errors = []
    for i, raw, obj in items:
        if obj is None or run_id is None:
            continue
        key = run_id(obj, i)
        if key in seen:
            what = (f"evaluation_id {raw['evaluation_id']!r}" if "evaluation_id" in raw
                    else f"{unit} id {key!r} (no evaluation_id given)")
            errors.append(ValidationError(file, i, None, f"{what} repeats {unit} {seen[key]}", unit))
        else:
            seen[key] = i
    return errors


def validate_file(path: str | Path, fmt: str = "auto", image_root: str | Path | None = None,
                  max_errors: int = 50) -> ValidationReport:
    """Validate any supported layout; stops collecting after `max_errors` errors."""
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS} or 'auto'")
    path = Path(path)
    report = ValidationReport(str(path), fmt)
    try:
        items = load_items(path)
        if fmt == "auto" and items:
            report.format = fmt = file_layout(path, items)
        images = _ImageChecker(image_root)
    except (DataFormatError, ImageLoadError) as e:
        reason = str(e).removeprefix(f"{path}: ")
        if "cannot tell the layout" in reason:
            reason += f" (or pass --format {'|'.join(FORMATS)})"
        report.errors.append(ValidationError(str(path), None, None, reason))
        return report
    if fmt == "auto":
        report.format = "dialogue"  # an empty list
    read = []
    for i, raw in enumerate(items):
        obj, found = _check_item(report.format, raw, i, str(path), images, report)
        read.append((i, raw, obj))
        report.errors.extend(found)
        report.n_items += 1
        if len(report.errors) >= max_errors:
            break
    report.errors += _repeat_errors(report.format, read, str(path))
    report.errors.sort(key=lambda e: -1 if e.dialogue is None else e.dialogue)  # stable: by item, in place
    del report.errors[max_errors:]
    return report


def validate_dialogue_file(path: str | Path, image_root: str | Path | None = None,
                           max_errors: int = 50) -> list[ValidationError]:
    """Errors of a SparklesDialogue/SparklesEval file (empty list = valid)."""
    return validate_file(path, "dialogue", image_root, max_errors).errors
