"""Read and write the original Sparkles file layouts, so the package can use the real downloads.

Each layout is declared once, in `LAYOUTS`: how to recognise it, how to read one item (every rule an
item must follow lives in its reader), which images an item uses and, for evaluation sets, the id a
run logs it under. Training, evaluation and `data validate` all read files through these readers, so
a file one of them accepts the others accept too (`validate` adds only the image files and the checks
across items).

Layouts (field names as in the HYPJUDY/Sparkles code):

* ``dialogue`` (SparklesDialogueCC/VG): a JSON list of ``{"dialogue": [messages], ...}``; a message
  is ``{"role", "content", "images"}`` where ``images`` (user messages only) is
  ``[{"image_id", "caption"}]`` in the order their placeholders ``IMAGE#<id><Img><ImageHere></Img>``
  appear in the content. Other top-level keys (``raw``...) are kept in ``Dialogue.meta``. ``.jsonl``
  files (one such object per line, as the LLM generator writes) are read too.
* ``eval`` (SparklesEval): the same, with an ``evaluation_id`` and exactly two turns (four messages).
* ``turns`` (the per-turn training files ``SparklesDialogue{CC,VG}_turn{1,2}_{N}img.json`` and the
  LLaVA-for-Sparkles files): ``{"uniform_question", "instruction", "answer", "tgt_imgs"}``;
  ``instruction`` is the whole prompt ``###Human: q1###Assistant: a1###Human: q2###Assistant: ``
  (optional: without it the prompt is the one question), ``uniform_question`` (or ``question``) the
  current user message, ``tgt_imgs`` every image of the conversation in placeholder order. The k-th
  placeholder is ``tgt_imgs[k]``, as the official loader splices them; a placeholder may carry its id
  (``IMAGE#<id><Img><ImageHere></Img>``, then it must be that image) or not (LLaVA-for-Sparkles writes
  ``<Img><ImageHere></Img>`` and ``image <Img><ImageHere></Img>`` too). An optional ``fix_answer``
  overrides ``answer`` (as in Sparkles).
* ``bison``: ``{"evaluation_id", "caption", "true_image_id", "image_candidates": [two {"image_id",
  "image_filename"}]}``; the label is IMAGE#1 when the true image is the first candidate; an image is
  the file ``image_filename`` names (else ``<image_id>.jpg``).
* ``nlvr2``: ``{"evaluation_id", "identifier", "sentence", "label": "True"|"False"}``; the pair's
  images are ``<identifier minus its last '-part'>-img0`` and ``-img1``, stored as ``.png``. Sparkles
  cuts ``identifier[:-2]``: the same wherever the last part is one digit.

Image ids are read as strings (VG ids are integers in the originals) and written as strings.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkles_lite.data.schema import (ANY_PLACEHOLDER_RE, ASSISTANT, IMAGE_BLOCK, SEP, USER, Dialogue, ImageRef,
                                       Message, TurnExample, forged_turn, mentioned_ids, placeholder_ids)

HUMAN_TAG, ASSISTANT_TAG = f"{SEP}Human: ", f"{SEP}Assistant: "
TURN_KEYS = ("uniform_question", "instruction", "answer", "tgt_imgs")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an item: the message it is in (None: the item as a whole) and what."""

    message: int | None
    reason: str


class DataFormatError(ValueError):
    """A file does not follow its layout; the message names the file and the item.

    `problems` lists everything wrong with the item (the message shows the first), so `data validate`
    can report each on its own line."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


# ---------------------------------------------------------------- JSON plumbing

def load_json(path: str | Path) -> Any:
    """Parse a JSON file; a syntax error names the file, line and column."""
    path = Path(path)
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataFormatError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e
    except RecursionError:
        raise DataFormatError(f"{path}: JSON nested too deeply to read (past the recursion limit)") from None


def read_jsonl(path: str | Path) -> list[Any]:
    """One JSON value per non-empty line; a bad line is reported by number."""
    path = Path(path)
    out = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataFormatError(f"{path}: malformed JSON at line {n}, column {e.colno}: {e.msg}") from e
        except RecursionError:
            raise DataFormatError(f"{path}: line {n}: JSON nested too deeply to read") from None
    return out


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path}: not UTF-8 text (byte {e.start}); expected a JSON file") from e


def append_jsonl(path: str | Path, obj: Any) -> None:
    """Append one line and flush, so an interrupted run keeps everything written so far."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    """JSON through `write_bytes_atomic`: readers never see half a file."""
    write_bytes_atomic(path, (json.dumps(obj, ensure_ascii=False, indent=indent) + "\n").encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file, and a
    failed write (a full disk: `os.write` raises it here) leaves the old file and no temporary one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_items(path: str | Path) -> list:
    """The raw items of a data file: a JSON list (.json) or one value per line (.jsonl)."""
    path = Path(path)
    data = read_jsonl(path) if path.suffix == ".jsonl" else load_json(path)
    if not isinstance(data, list):
        raise DataFormatError(f"{path}: expected a JSON list at the top level, got {type(data).__name__}")
    return data


def _fail(where: str, problems: list[Problem]) -> DataFormatError:
    first = problems[0]
    text = f"{where}, message {first.message}: {first.reason}" if first.message is not None else f"{where}: {first.reason}"
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more problem(s) in this item: `data validate` lists them)"
    return DataFormatError(text, problems)


def _missing_keys(raw: Any, keys: tuple[str, ...]) -> Problem | None:
    if not isinstance(raw, dict):
        return Problem(None, f"expected an object, got {type(raw).__name__}")
    missing = [k for k in keys if k not in raw]
    return Problem(None, f"missing key(s) {', '.join(missing)}") if missing else None


def _require(d: Any, keys: tuple[str, ...], where: str) -> None:
    problem = _missing_keys(d, keys)
    if problem:
        raise _fail(where, [problem])


# ---------------------------------------------------------------- dialogues

def image_from_dict(d: Any, where: str = "image") -> ImageRef:
    _require(d, ("image_id",), where)
    return ImageRef(image_id=str(d["image_id"]), caption=str(d.get("caption", "")))


def image_to_dict(ref: ImageRef) -> dict:
    return {"image_id": ref.image_id, "caption": ref.caption}


def message_to_dict(m: Message) -> dict:
    """User messages always carry `images` (maybe empty); assistant messages never do, as in Sparkles."""
    out: dict = {"role": m.role, "content": m.content}
    if m.role == USER or m.images:
        out["images"] = [image_to_dict(ref) for ref in m.images]
    return out


def dialogue_problems(raw: Any) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of one `{"dialogue": [...]}` object.

    Errors make the dialogue unusable: roles out of order, empty text, or placeholders and `images`
    that disagree (which would put an image on another's slot). Warnings are worth a look but
    harmless to training: text that names an image id no message has introduced."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    if not isinstance(raw, dict) or not isinstance(raw.get("dialogue"), list):
        return [Problem(None, "expected an object with a 'dialogue' list of messages")], []
    messages = raw["dialogue"]
    if not messages:
        errors.append(Problem(None, "the dialogue has no messages"))
    elif len(messages) % 2:
        errors.append(Problem(None, f"odd number of messages ({len(messages)}): a dialogue alternates "
                                    "user/assistant and ends with an assistant answer"))
    introduced: dict[str, int] = {}  # image id -> message that introduced it
    for j, m in enumerate(messages):
        if not isinstance(m, dict):
            errors.append(Problem(j, f"expected a message object, got {type(m).__name__}"))
            continue
        errors += [Problem(j, r) for r in _role_and_content_problems(m, j)]
        image_errors, image_warnings = _image_problems(m, j, introduced)
        errors += [Problem(j, r) for r in image_errors]
        warnings += [Problem(j, r) for r in image_warnings]
    return errors, warnings


def _role_and_content_problems(m: dict, j: int) -> list[str]:
    out = []
    expected = USER if j % 2 == 0 else ASSISTANT
    role = m.get("role")
    if role is None:
        out.append("missing key 'role'")
    elif role != expected:
        if isinstance(role, str) and role.strip().lower() == expected:
            out.append(f"role {role!r} should be exactly {expected!r}")
        else:
            out.append(f"expected role {expected!r} (messages alternate user/assistant, starting with user), got {role!r}")
    content = m.get("content")
    if not isinstance(content, str):
        out.append("missing or non-string 'content'")
    elif not content.strip():
        out.append("empty content")
    elif forged_turn(content):  # '###' would end the turn in the prompt and start one the data never had
        out.append(forged_turn(content))
    return out


def _image_problems(m: dict, j: int, introduced: dict[str, int]) -> tuple[list[str], list[str]]:
    """(errors, warnings) of placeholders against `images` in message j; records what it introduces."""
    content = m["content"] if isinstance(m.get("content"), str) else ""
    listed_raw = m.get("images") or []
    if not isinstance(listed_raw, list) or not all(isinstance(x, dict) and "image_id" in x for x in listed_raw):
        return ["'images' must be a list of {\"image_id\", \"caption\"} objects"], []
    errors: list[str] = []
    listed = [str(x["image_id"]) for x in listed_raw]
    placed = placeholder_ids(content)
    role = m.get("role")
    if isinstance(role, str) and role.strip().lower() == ASSISTANT:
        if listed:
            errors.append(f"an assistant message carries images ({', '.join(listed)}); only user messages introduce images")
        errors += [f"an assistant message contains a placeholder IMAGE#{i}{IMAGE_BLOCK}" for i in placed]
    errors += [f"image id {i} is listed {n} times in images" for i, n in Counter(listed).items() if n > 1]
    errors += [f"IMAGE#{i} has {n} placeholders; one is expected where the image is introduced"
               for i, n in Counter(placed).items() if n > 1]
    n_blocks = content.count(IMAGE_BLOCK)
    if n_blocks != len(listed):
        errors.append(f"{n_blocks} placeholder(s) {IMAGE_BLOCK} but {len(listed)} image(s) in images")
    elif n_blocks > len(placed):
        errors.append(f"{n_blocks - len(placed)} placeholder(s) {IMAGE_BLOCK} without IMAGE#<id> before them")
    for image_id in dict.fromkeys(listed):
        if image_id not in placed:
            errors.append(f"image {image_id} is listed in images but has no placeholder IMAGE#{image_id}{IMAGE_BLOCK}")
        elif image_id in introduced:
            errors.append(f"image {image_id} is introduced again (first introduced in message {introduced[image_id]})")
    for image_id in dict.fromkeys(placed):
        if image_id in listed:
            continue
        if image_id in introduced:
            errors.append(f"placeholder for IMAGE#{image_id}, which message {introduced[image_id]} already introduced; "
                          "later mentions carry no placeholder")
        else:
            errors.append(f"unknown image id {image_id}: placeholder IMAGE#{image_id}{IMAGE_BLOCK} "
                          "but no image with that id in images")
    if set(listed) == set(placed) and len(listed) == len(placed) and listed != placed:
        errors.append(f"images are listed in the order {listed} but their placeholders appear in the order {placed}")
    for image_id in listed:
        introduced.setdefault(image_id, j)
    warnings = [f"unknown image id {i}: the text mentions IMAGE#{i}, which no message so far introduces"
                for i in mentioned_ids(content) if i not in introduced and i not in placed]
    return errors, warnings


def dialogue_from_dict(d: Any, where: str = "dialogue") -> Dialogue:
    """A dialogue object, checked by `dialogue_problems` (its warnings do not stop it)."""
    errors, _ = dialogue_problems(d)
    if errors:
        raise _fail(where, errors)
    messages = [Message(role=m["role"], content=m["content"],
                        images=[image_from_dict(im) for im in m.get("images") or []]) for m in d["dialogue"]]
    return Dialogue(messages=messages, meta={k: v for k, v in d.items() if k != "dialogue"})


def eval_dialogue_from_dict(d: Any, where: str = "dialogue") -> Dialogue:
    """A SparklesEval item: a dialogue of exactly two turns with an `evaluation_id`."""
    problems = []
    if isinstance(d, dict) and "evaluation_id" not in d:
        problems.append(Problem(None, "missing key 'evaluation_id'"))
    if isinstance(d, dict) and isinstance(d.get("dialogue"), list) and len(d["dialogue"]) != 4:
        problems.append(Problem(None, f"a SparklesEval dialogue has two turns (4 messages), got {len(d['dialogue'])}"))
    errors, _ = dialogue_problems(d)
    if errors or problems:
        raise _fail(where, problems + errors)
    return dialogue_from_dict(d, where)


def dialogue_to_dict(dialogue: Dialogue) -> dict:
    return {"dialogue": [message_to_dict(m) for m in dialogue.messages], **dialogue.meta}


def load_dialogues(path: str | Path) -> list[Dialogue]:
    """A SparklesDialogue file (.json list, or .jsonl)."""
    return read_layout(path, "dialogue")


def load_eval_dialogues(path: str | Path) -> list[Dialogue]:
    """A SparklesEval file: two-turn dialogues with an `evaluation_id` each."""
    return read_layout(path, "eval")


def save_dialogues(path: str | Path, dialogues: list[Dialogue]) -> None:
    write_json_atomic(path, [dialogue_to_dict(d) for d in dialogues])


# ---------------------------------------------------------------- per-turn training files

def instruction_text(history: list[Message]) -> str:
    """The Sparkles prompt: `###Human: q1###Assistant: a1###Human: q2###Assistant: `."""
    return "".join((HUMAN_TAG if m.role == USER else ASSISTANT_TAG) + m.content for m in history) + ASSISTANT_TAG


def _parse_instruction(text: str) -> list[tuple[str, str]]:
    if not text.startswith(HUMAN_TAG) or not text.endswith(ASSISTANT_TAG):
        raise ValueError(f"instruction must start with {HUMAN_TAG!r} and end with {ASSISTANT_TAG!r}")
    parts: list[tuple[str, str]] = []
    for chunk in text[len(HUMAN_TAG):-len(ASSISTANT_TAG)].split(HUMAN_TAG):
        user, *answers = chunk.split(ASSISTANT_TAG)
        parts.append((USER, user))
        if len(answers) > 1:
            raise ValueError(f"two {ASSISTANT_TAG!r} in a row in the instruction")
        parts += [(ASSISTANT, a) for a in answers]
    return parts


def turn_from_dict(d: Any, where: str = "turn") -> TurnExample:
    """Rebuild the history from `instruction` and give each user message the images of its placeholders.

    The k-th placeholder is `tgt_imgs[k]` (the official loader's rule); one written after an id must be
    that image, so a file whose ids and order disagree is an error, never a silent swap."""
    problem = _missing_keys(d, ("answer", "tgt_imgs"))
    if problem:
        raise _fail(where, [problem])
    question = d.get("uniform_question", d.get("question"))
    problems: list[Problem] = []
    pairs: list[tuple[str, str]] = []
    instruction = d.get("instruction")
    if instruction is not None:
        try:
            pairs = _parse_instruction(instruction) if isinstance(instruction, str) else []
        except ValueError as e:
            problems.append(Problem(None, str(e)))
        if not isinstance(instruction, str):
            problems.append(Problem(None, "'instruction' must be a string"))
    elif isinstance(question, str):
        pairs = [(USER, question)]
    else:
        problems.append(Problem(None, "needs 'instruction' or 'uniform_question'"))
    if pairs and isinstance(question, str) and pairs[-1][1] != question:
        problems.append(Problem(None, "uniform_question differs from the last user message of the instruction"))
    if not isinstance(d["answer"], str) or not d["answer"].strip():
        problems.append(Problem(None, "empty answer"))
    if not isinstance(d["tgt_imgs"], list) or not all(isinstance(x, dict) and "image_id" in x for x in d["tgt_imgs"]):
        problems.append(Problem(None, "'tgt_imgs' must be a list of {\"image_id\", \"caption\"} objects"))
    if problems:
        raise _fail(where, problems)
    refs = [image_from_dict(im) for im in d["tgt_imgs"]]
    history = [Message(role, text) for role, text in pairs]
    k = 0
    for m in history:
        for block in ANY_PLACEHOLDER_RE.finditer(m.content):
            if m.role == ASSISTANT:
                problems.append(Problem(None, "an assistant answer in the instruction contains a placeholder"))
            elif k >= len(refs):
                named = f" (IMAGE#{block.group(1)})" if block.group(1) else ""
                problems.append(Problem(None, f"placeholder {k + 1}{named} has no entry in tgt_imgs "
                                              f"({len(refs)} given)"))
            elif block.group(1) is not None and block.group(1) != refs[k].image_id:
                problems.append(Problem(None, f"placeholder {k + 1} is IMAGE#{block.group(1)} but tgt_imgs[{k}] is "
                                              f"image {refs[k].image_id}: the images would go to the wrong places"))
            else:
                m.images.append(refs[k])
            k += 1
    if k < len(refs):
        problems.append(Problem(None, f"{k} placeholder(s) in the instruction but {len(refs)} tgt_imgs"))
    if problems:
        raise _fail(where, problems)
    meta = {key: v for key, v in d.items() if key not in TURN_KEYS}
    answer = d["answer"]
    if "fix_answer" in d:
        meta["original_answer"], answer = answer, d["fix_answer"]
    return TurnExample(history=history, answer=answer, images=refs, meta=meta)


def turn_to_dict(turn: TurnExample) -> dict:
    meta = dict(turn.meta)
    out = {"uniform_question": turn.history[-1].content, "instruction": instruction_text(turn.history),
           "answer": turn.answer, "tgt_imgs": [image_to_dict(r) for r in turn.images]}
    if "fix_answer" in meta:
        out["answer"] = meta.pop("original_answer", turn.answer)
        meta["fix_answer"] = turn.answer
    return {**out, **meta}


def load_turns(path: str | Path) -> list[TurnExample]:
    return read_layout(path, "turns")


def save_turns(path: str | Path, turns: list[TurnExample]) -> None:
    write_json_atomic(path, [turn_to_dict(t) for t in turns])


# ---------------------------------------------------------------- BISON

@dataclass
class BisonItem:
    """Pick which of two `image_ids` the caption describes; `image_filenames` are None when not given."""

    caption: str
    true_image_id: str
    image_ids: list[str]
    image_filenames: list[str | None] = field(default_factory=list)
    evaluation_id: Any = None
    meta: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """'IMAGE#1' or 'IMAGE#2', as Sparkles scores it."""
        return f"IMAGE#{self.image_ids.index(self.true_image_id) + 1}"


def bison_from_dict(d: Any, where: str = "BISON item") -> BisonItem:
    problem = _missing_keys(d, ("caption", "true_image_id", "image_candidates"))
    if problem:
        raise _fail(where, [problem])
    problems = []
    if not isinstance(d["caption"], str) or not d["caption"].strip():
        problems.append(Problem(None, "empty caption"))
    cands = d["image_candidates"]
    if not isinstance(cands, list) or len(cands) != 2 or not all(isinstance(c, dict) and "image_id" in c for c in cands):
        raise _fail(where, problems + [Problem(None, "image_candidates must be a list of two "
                                                     "{\"image_id\", \"image_filename\"} objects")])
    ids = [str(c["image_id"]) for c in cands]
    if str(d["true_image_id"]) not in ids:
        problems.append(Problem(None, f"true_image_id {d['true_image_id']} is not among the candidates {ids}"))
    if problems:
        raise _fail(where, problems)
    return BisonItem(caption=d["caption"], true_image_id=str(d["true_image_id"]), image_ids=ids,
                     image_filenames=[c.get("image_filename") for c in cands], evaluation_id=d.get("evaluation_id"),
                     meta={k: v for k, v in d.items()
                           if k not in ("caption", "true_image_id", "image_candidates", "evaluation_id")})


def bison_to_dict(item: BisonItem) -> dict:
    cands = []
    for image_id, filename in zip(item.image_ids, item.image_filenames or [None] * len(item.image_ids)):
        cands.append({"image_id": image_id, **({"image_filename": filename} if filename is not None else {})})
    out = {"caption": item.caption, "true_image_id": item.true_image_id, "image_candidates": cands, **item.meta}
    if item.evaluation_id is not None:
        out = {"evaluation_id": item.evaluation_id, **out}
    return out


def load_bison(path: str | Path) -> list[BisonItem]:
    return read_layout(path, "bison")


def save_bison(path: str | Path, items: list[BisonItem]) -> None:
    write_json_atomic(path, [bison_to_dict(x) for x in items])


# ---------------------------------------------------------------- NLVR2

def nlvr2_image_ids(identifier: str) -> list[str]:
    """`dev-850-0-0` -> [`dev-850-0-img0`, `dev-850-0-img1`]: the pair shared by all its sentences."""
    parts = str(identifier).split("-")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"NLVR2 identifier {identifier!r} is not of the form <split>-<set>-<pair>-<sentence>")
    pair = "-".join(parts[:-1])
    return [f"{pair}-img0", f"{pair}-img1"]


def parse_nlvr2_label(label: Any) -> bool:
    """NLVR2 writes 'True' / 'False'; any case (or a JSON boolean) is accepted."""
    if isinstance(label, bool):
        return label
    if isinstance(label, str) and label.strip().lower() in ("true", "false"):
        return label.strip().lower() == "true"
    raise ValueError(f"NLVR2 label must be 'True' or 'False', got {label!r}")


@dataclass
class Nlvr2Item:
    """Is `sentence` true of the image pair (left = image_ids[0], right = image_ids[1])?"""

    identifier: str
    sentence: str
    label: bool
    image_ids: list[str] = field(default_factory=list)
    evaluation_id: Any = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.image_ids:
            self.image_ids = nlvr2_image_ids(self.identifier)


def nlvr2_from_dict(d: Any, where: str = "NLVR2 item") -> Nlvr2Item:
    problem = _missing_keys(d, ("identifier", "sentence", "label"))
    if problem:
        raise _fail(where, [problem])
    problems = []
    if not isinstance(d["sentence"], str) or not d["sentence"].strip():
        problems.append(Problem(None, "empty sentence"))
    for check in (lambda: parse_nlvr2_label(d["label"]), lambda: nlvr2_image_ids(d["identifier"])):
        try:
            check()
        except ValueError as e:
            problems.append(Problem(None, str(e)))
    if problems:
        raise _fail(where, problems)
    return Nlvr2Item(identifier=str(d["identifier"]), sentence=d["sentence"], label=parse_nlvr2_label(d["label"]),
                     evaluation_id=d.get("evaluation_id"),
                     meta={k: v for k, v in d.items() if k not in ("identifier", "sentence", "label", "evaluation_id")})


def nlvr2_to_dict(item: Nlvr2Item) -> dict:
    out = {"identifier": item.identifier, "sentence": item.sentence, "label": "True" if item.label else "False",
           **item.meta}
    if item.evaluation_id is not None:
        out = {"evaluation_id": item.evaluation_id, **out}
    return out


def load_nlvr2(path: str | Path) -> list[Nlvr2Item]:
    return read_layout(path, "nlvr2")


def save_nlvr2(path: str | Path, items: list[Nlvr2Item]) -> None:
    write_json_atomic(path, [nlvr2_to_dict(x) for x in items])


# ---------------------------------------------------------------- the layouts, declared once

@dataclass(frozen=True)
class ImageUse:
    """An image an item needs: its id, the file the item names (BISON), and the message it enters in."""

    image_id: str
    filename: str | None = None
    message: int | None = None


@dataclass(frozen=True)
class Layout:
    """One file layout: its reader and what the rest of the package asks of its items."""

    name: str
    unit: str                                   # what an item is called in messages: 'dialogue' or 'item'
    read: Callable[[Any, str], Any]             # raw item, where -> object; DataFormatError names the problem
    images: Callable[[Any], list[ImageUse]]     # the images a read item needs, in splice order
    run_id: Callable[[Any, int], str] | None = None  # evaluation sets: the id a run logs item k under
    trains: bool = False                        # `train --data` takes it
    description: str = ""


def _dialogue_images(d: Dialogue) -> list[ImageUse]:
    return [ImageUse(r.image_id, None, j) for j, m in enumerate(d.messages) for r in m.images]


LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (
    Layout("dialogue", "dialogue", dialogue_from_dict, _dialogue_images, trains=True,
           description="SparklesDialogue: {dialogue: [messages]}"),
    Layout("eval", "dialogue", eval_dialogue_from_dict, _dialogue_images,
           run_id=lambda d, k: str(d.meta["evaluation_id"]),
           description="SparklesEval: two-turn dialogues with an evaluation_id"),
    Layout("turns", "item", turn_from_dict, lambda t: [ImageUse(r.image_id) for r in t.images], trains=True,
           description="per-turn training items: {uniform_question, instruction, answer, tgt_imgs}"),
    Layout("bison", "item", bison_from_dict,
           lambda b: [ImageUse(i, f) for i, f in zip(b.image_ids, b.image_filenames)],
           run_id=lambda b, k: str(b.evaluation_id if b.evaluation_id is not None else k),
           description="BISON: {caption, true_image_id, image_candidates}"),
    Layout("nlvr2", "item", nlvr2_from_dict, lambda n: [ImageUse(i) for i in n.image_ids],
           run_id=lambda n, k: str(n.evaluation_id if n.evaluation_id is not None else n.identifier),
           description="NLVR2: {identifier, sentence, label}"),
)}


def detect_layout(item: Any) -> str | None:
    """The layout an item's keys announce (None: none of them)."""
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


def file_layout(path: str | Path, items: list | None = None) -> str:
    """The layout of a file, from its first item; DataFormatError when it announces none."""
    items = load_items(path) if items is None else items
    if not items:
        raise DataFormatError(f"{path}: the file has no items")
    name = detect_layout(items[0])
    if name is None:
        keys = sorted(items[0]) if isinstance(items[0], dict) else type(items[0]).__name__
        raise DataFormatError(f"{path}: item 0: cannot tell the layout from {keys}; expected one of: "
                              + "; ".join(layout.description for layout in LAYOUTS.values()))
    return name


def read_item(layout: str, raw: Any, where: str) -> Any:
    """One item through its layout's reader; any malformed value is a DataFormatError naming `where`."""
    try:
        return LAYOUTS[layout].read(raw, where)
    except DataFormatError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError) as e:  # a value of the wrong type somewhere
        raise _fail(where, [Problem(None, f"malformed item ({type(e).__name__}: {e})")]) from e


def read_layout(path: str | Path, layout: str = "auto") -> list:
    """Every item of a file read as `layout` ('auto': the layout its first item announces). An eval
    set given as 'dialogue' is read as dialogues; any other mismatch is an error naming both layouts."""
    items = load_items(path)
    if not items:
        return []
    found = file_layout(path, items)
    if layout == "auto":
        layout = found
    elif found != layout and not (layout == "dialogue" and found == "eval"):
        raise DataFormatError(f"{path}: a {LAYOUTS[found].description} file, not {LAYOUTS[layout].description}")
    unit = LAYOUTS[layout].unit
    return [read_item(layout, raw, f"{path}: {unit} {i}") for i, raw in enumerate(items)]
