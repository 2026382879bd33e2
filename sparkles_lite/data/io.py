"""Read and write the original Sparkles file layouts, so the package can use the real downloads.

Layouts (field names as in the HYPJUDY/Sparkles code):

* dialogue files (SparklesDialogueCC/VG, SparklesEval): a JSON list of
  ``{"dialogue": [messages], ...}``; a message is ``{"role", "content", "images"}`` where
  ``images`` (user messages only) is ``[{"image_id", "caption"}]`` and the content holds
  ``IMAGE#<id><Img><ImageHere></Img>`` where each image is introduced. Other top-level keys
  (``evaluation_id``, ``raw``...) are kept in ``Dialogue.meta``. ``.jsonl`` files (one such
  object per line, as the LLM generator writes) are read too.
* per-turn training files (``*_1img.json``...): ``{"uniform_question", "instruction", "answer",
  "tgt_imgs"}``; ``uniform_question`` is the current user message, ``instruction`` the whole
  prompt ``###Human: q1###Assistant: a1###Human: q2###Assistant: `` and ``tgt_imgs`` every image
  of the conversation so far. An optional ``fix_answer`` overrides ``answer`` (as in Sparkles).
* BISON: ``{"evaluation_id", "caption", "true_image_id", "image_candidates": [{"image_id",
  "image_filename"}]}``; the label is IMAGE#1 when the true image is the first candidate.
* NLVR2: ``{"evaluation_id", "identifier", "sentence", "label": "True"|"False"}``; the pair's
  images are ``<identifier minus its last '-part'>-img0`` and ``-img1`` (Sparkles uses
  ``identifier[:-2]``, the same for NLVR2's single-digit last part), stored as ``.png``.

Image ids are read as strings (VG ids are integers in the originals) and written as strings.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkles_lite.data.schema import ASSISTANT, USER, Dialogue, ImageRef, Message, TurnExample, placeholder_ids

HUMAN_TAG, ASSISTANT_TAG = "###Human: ", "###Assistant: "
TURN_KEYS = ("uniform_question", "instruction", "answer", "tgt_imgs")


class DataFormatError(ValueError):
    """A file does not follow its layout; the message names the file and the item."""


# ---------------------------------------------------------------- JSON plumbing

def load_json(path: str | Path) -> Any:
    """Parse a JSON file; a syntax error names the file, line and column."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataFormatError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from e


def read_jsonl(path: str | Path) -> list[Any]:
    """One JSON value per non-empty line; a bad line is reported by number."""
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataFormatError(f"{path}: malformed JSON at line {n}, column {e.colno}: {e.msg}") from e
    return out


def append_jsonl(path: str | Path, obj: Any) -> None:
    """Append one line and flush, so an interrupted run keeps everything written so far."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_json_atomic(path: str | Path, obj: Any, indent: int | None = 2) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=indent)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_list(path: str | Path) -> list:
    path = Path(path)
    data = read_jsonl(path) if path.suffix == ".jsonl" else load_json(path)
    if not isinstance(data, list):
        raise DataFormatError(f"{path}: expected a JSON list at the top level, got {type(data).__name__}")
    return data


def _require(d: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(d, dict):
        raise DataFormatError(f"{where}: expected an object, got {type(d).__name__}")
    missing = [k for k in keys if k not in d]
    if missing:
        raise DataFormatError(f"{where}: missing key(s) {', '.join(missing)}")


# ---------------------------------------------------------------- dialogues

def image_from_dict(d: Any, where: str = "image") -> ImageRef:
    _require(d, ("image_id",), where)
    return ImageRef(image_id=str(d["image_id"]), caption=str(d.get("caption", "")))


def image_to_dict(ref: ImageRef) -> dict:
    return {"image_id": ref.image_id, "caption": ref.caption}


def message_from_dict(d: Any, where: str = "message") -> Message:
    _require(d, ("role", "content"), where)
    images = d.get("images") or []
    return Message(role=d["role"], content=d["content"],
                   images=[image_from_dict(im, f"{where}, image {k}") for k, im in enumerate(images)])


def message_to_dict(m: Message) -> dict:
    """User messages always carry `images` (maybe empty); assistant messages never do, as in Sparkles."""
    out: dict = {"role": m.role, "content": m.content}
    if m.role == USER or m.images:
        out["images"] = [image_to_dict(ref) for ref in m.images]
    return out


def dialogue_from_dict(d: Any, where: str = "dialogue") -> Dialogue:
    _require(d, ("dialogue",), where)
    if not isinstance(d["dialogue"], list):
        raise DataFormatError(f"{where}: 'dialogue' must be a list of messages")
    messages = [message_from_dict(m, f"{where}, message {j}") for j, m in enumerate(d["dialogue"])]
    return Dialogue(messages=messages, meta={k: v for k, v in d.items() if k != "dialogue"})


def dialogue_to_dict(dialogue: Dialogue) -> dict:
    return {"dialogue": [message_to_dict(m) for m in dialogue.messages], **dialogue.meta}


def load_dialogues(path: str | Path) -> list[Dialogue]:
    """A SparklesDialogue or SparklesEval file (.json list, or .jsonl)."""
    return [dialogue_from_dict(d, f"{path}: dialogue {i}") for i, d in enumerate(_load_list(path))]


def save_dialogues(path: str | Path, dialogues: list[Dialogue]) -> None:
    write_json_atomic(path, [dialogue_to_dict(d) for d in dialogues])


# ---------------------------------------------------------------- per-turn training files

def instruction_text(history: list[Message]) -> str:
    """The Sparkles prompt: `###Human: q1###Assistant: a1###Human: q2###Assistant: `."""
    return "".join((HUMAN_TAG if m.role == USER else ASSISTANT_TAG) + m.content for m in history) + ASSISTANT_TAG


def _parse_instruction(text: str, where: str) -> list[tuple[str, str]]:
    if not text.startswith(HUMAN_TAG) or not text.endswith(ASSISTANT_TAG):
        raise DataFormatError(f"{where}: instruction must start with {HUMAN_TAG!r} and end with {ASSISTANT_TAG!r}")
    parts: list[tuple[str, str]] = []
    for chunk in text[len(HUMAN_TAG):-len(ASSISTANT_TAG)].split(HUMAN_TAG):
        user, *answers = chunk.split(ASSISTANT_TAG)
        parts.append((USER, user))
        if len(answers) > 1:
            raise DataFormatError(f"{where}: two {ASSISTANT_TAG!r} in a row in the instruction")
        parts += [(ASSISTANT, a) for a in answers]
    return parts


def turn_from_dict(d: Any, where: str = "turn") -> TurnExample:
    """Rebuild the history from `instruction` and give each user message the images it introduces."""
    _require(d, ("answer", "tgt_imgs"), where)
    question = d.get("uniform_question", d.get("question"))
    if "instruction" in d:
        pairs = _parse_instruction(d["instruction"], where)
    elif question is not None:
        pairs = [(USER, question)]
    else:
        raise DataFormatError(f"{where}: needs 'instruction' or 'uniform_question'")
    if question is not None and pairs[-1][1] != question:
        raise DataFormatError(f"{where}: uniform_question differs from the last user message of the instruction")
    refs = {}
    for k, im in enumerate(d["tgt_imgs"]):
        ref = image_from_dict(im, f"{where}, tgt_imgs {k}")
        refs.setdefault(ref.image_id, ref)
    history = [Message(role, text) for role, text in pairs]
    for m in history:
        for image_id in placeholder_ids(m.content):
            if image_id not in refs:
                raise DataFormatError(f"{where}: placeholder IMAGE#{image_id} has no entry in tgt_imgs")
            m.images.append(refs[image_id])
    meta = {k: v for k, v in d.items() if k not in TURN_KEYS}
    answer = d["answer"]
    if "fix_answer" in d:
        meta["original_answer"], answer = answer, d["fix_answer"]
    return TurnExample(history=history, answer=answer, images=list(refs.values()), meta=meta)


def turn_to_dict(turn: TurnExample) -> dict:
    meta = dict(turn.meta)
    out = {"uniform_question": turn.history[-1].content, "instruction": instruction_text(turn.history),
           "answer": turn.answer, "tgt_imgs": [image_to_dict(r) for r in turn.images]}
    if "fix_answer" in meta:
        out["answer"] = meta.pop("original_answer", turn.answer)
        meta["fix_answer"] = turn.answer
    return {**out, **meta}


def load_turns(path: str | Path) -> list[TurnExample]:
    return [turn_from_dict(d, f"{path}: turn {i}") for i, d in enumerate(_load_list(path))]


def save_turns(path: str | Path, turns: list[TurnExample]) -> None:
    write_json_atomic(path, [turn_to_dict(t) for t in turns])


# ---------------------------------------------------------------- BISON

@dataclass
class BisonItem:
    """Pick which of `image_ids` the caption describes; `image_filenames` are None when not given."""

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
    _require(d, ("caption", "true_image_id", "image_candidates"), where)
    cands = d["image_candidates"]
    for k, c in enumerate(cands):
        _require(c, ("image_id",), f"{where}, candidate {k}")
    item = BisonItem(caption=d["caption"], true_image_id=str(d["true_image_id"]),
                     image_ids=[str(c["image_id"]) for c in cands],
                     image_filenames=[c.get("image_filename") for c in cands],
                     evaluation_id=d.get("evaluation_id"),
                     meta={k: v for k, v in d.items()
                           if k not in ("caption", "true_image_id", "image_candidates", "evaluation_id")})
    if item.true_image_id not in item.image_ids:
        raise DataFormatError(f"{where}: true_image_id {item.true_image_id} is not among the candidates {item.image_ids}")
    return item


def bison_to_dict(item: BisonItem) -> dict:
    cands = []
    for image_id, filename in zip(item.image_ids, item.image_filenames or [None] * len(item.image_ids)):
        cands.append({"image_id": image_id, **({"image_filename": filename} if filename is not None else {})})
    out = {"caption": item.caption, "true_image_id": item.true_image_id, "image_candidates": cands, **item.meta}
    if item.evaluation_id is not None:
        out = {"evaluation_id": item.evaluation_id, **out}
    return out


def load_bison(path: str | Path) -> list[BisonItem]:
    return [bison_from_dict(d, f"{path}: item {i}") for i, d in enumerate(_load_list(path))]


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
    _require(d, ("identifier", "sentence", "label"), where)
    try:
        return Nlvr2Item(identifier=str(d["identifier"]), sentence=d["sentence"], label=parse_nlvr2_label(d["label"]),
                         evaluation_id=d.get("evaluation_id"),
                         meta={k: v for k, v in d.items() if k not in ("identifier", "sentence", "label", "evaluation_id")})
    except ValueError as e:
        raise DataFormatError(f"{where}: {e}") from e


def nlvr2_to_dict(item: Nlvr2Item) -> dict:
    out = {"identifier": item.identifier, "sentence": item.sentence, "label": "True" if item.label else "False",
           **item.meta}
    if item.evaluation_id is not None:
        out = {"evaluation_id": item.evaluation_id, **out}
    return out


def load_nlvr2(path: str | Path) -> list[Nlvr2Item]:
    return [nlvr2_from_dict(d, f"{path}: item {i}") for i, d in enumerate(_load_list(path))]


def save_nlvr2(path: str | Path, items: list[Nlvr2Item]) -> None:
    write_json_atomic(path, [nlvr2_to_dict(x) for x in items])
