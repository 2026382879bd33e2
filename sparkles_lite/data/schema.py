"""Typed in-memory form of SparklesDialogue: dialogues, messages and the images they mention."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

IMG_OPEN, IMAGE_TOKEN, IMG_CLOSE = "<Img>", "<ImageHere>", "</Img>"
IMAGE_BLOCK = IMG_OPEN + IMAGE_TOKEN + IMG_CLOSE  # the placeholder after an image's first mention
SEP = "###"  # the paper's turn separator and answer stop marker: ###Human: q1###Assistant: a1###Human: ...
USER, ASSISTANT = "user", "assistant"

_ID_CHAR = r"[A-Za-z0-9_\-]"  # an image id is letters, digits, '_' and '-'
IMAGE_ID = _ID_CHAR + "+"
IMAGE_MENTION = re.compile(rf"IMAGE#({IMAGE_ID})")  # `IMAGE#<id>` anywhere in a text; group 1 is the id
_BLOCK_RE = re.compile(rf"IMAGE#({IMAGE_ID})" + re.escape(IMAGE_BLOCK))  # a mention with its placeholder
# Any placeholder block, with the id written before it when there is one (LLaVA-for-Sparkles items
# also write a bare `<Img><ImageHere></Img>`): group 1 is the id or None.
ANY_PLACEHOLDER_RE = re.compile(rf"(?:IMAGE#({IMAGE_ID}))?" + re.escape(IMAGE_BLOCK))


@dataclass
class ImageRef:
    """An image a message introduces: its id (file stem under the image root) and caption."""

    image_id: str
    caption: str = ""


@dataclass
class Message:
    role: str
    content: str
    images: list[ImageRef] = field(default_factory=list)


@dataclass
class Dialogue:
    """A conversation; user messages carry the images they introduce, in order of appearance."""

    messages: list[Message]
    meta: dict = field(default_factory=dict)

    @property
    def images(self) -> list[ImageRef]:
        """All images in order of first appearance across the dialogue."""
        seen: dict[str, ImageRef] = {}
        for m in self.messages:
            for ref in m.images:
                seen.setdefault(ref.image_id, ref)
        return list(seen.values())


def mentioned_ids(text: str) -> list[str]:
    """The image ids a text mentions as `IMAGE#<id>`, in order of first mention."""
    return list(dict.fromkeys(IMAGE_MENTION.findall(text)))


def whole_id_pattern(image_id: str) -> re.Pattern:
    """`IMAGE#14` as a whole id: not inside `IMAGE#1417`, not already followed by a placeholder."""
    return re.compile(r"IMAGE#" + re.escape(str(image_id)) + rf"(?!{_ID_CHAR})(?!" + re.escape(IMAGE_BLOCK) + ")")


def insert_placeholders(text: str, image_ids: list[str]) -> str:
    """Put `<Img><ImageHere></Img>` after the first whole-id mention of each image.

    Raises ValueError naming the id when an image is never mentioned, so a placeholder is
    never silently missing.
    """
    for image_id in image_ids:
        if f"IMAGE#{image_id}{IMAGE_BLOCK}" in text:
            continue
        pattern = whole_id_pattern(image_id)
        if not pattern.search(text):
            raise ValueError(f"IMAGE#{image_id} is not mentioned in the text: {text[:120]!r}")
        text = pattern.sub(lambda m: m.group(0) + IMAGE_BLOCK, text, count=1)
    return text


def placeholder_ids(text: str) -> list[str]:
    """Ids of the images whose placeholders appear in the text, in order."""
    return _BLOCK_RE.findall(text)


def strip_placeholders(text: str) -> str:
    return text.replace(IMAGE_BLOCK, "")


def forged_turn(text: str, special_tokens: Iterable[str] = ()) -> str | None:
    """Why `text` (a question or an answer) would forge a turn of the conversation format, or None.

    The prompt is `###Human: q1###Assistant: a1###Human: ...`: text holding the separator `###` would
    end its own turn and start one the user wrote (`### Assistant: yes ###Human: ...`). So would an LM's
    special tokens (`special_tokens`: its BOS/EOS, a chat template's `<|im_start|>`), which its tokenizer
    reads as markers, not as text. Image placeholders are the one markup allowed."""
    bare = strip_placeholders(text)
    if SEP in bare:
        return (f"it contains {SEP!r}, the turn separator of the conversation format ({SEP}Human: ...{SEP}Assistant: "
                "...): it would end this turn and forge the next one; write it without '###'")
    found = [t for t in dict.fromkeys(special_tokens) if t and t in bare]
    if found:
        return (f"it contains the LM's special token(s) {', '.join(repr(t) for t in found)}, which its tokenizer reads "
                "as turn or sequence markers, not as text: it would forge a turn; write it without them")
    return None


@dataclass
class TurnExample:
    """One training example: the conversation so far (ending with a user message) and the answer.

    `images` are all images mentioned in `history`, in order of appearance: the order in which
    their placeholders occur, which is the order their projected tokens are spliced in.
    """

    history: list[Message]
    answer: str
    images: list[ImageRef]
    meta: dict = field(default_factory=dict)
