"""Typed in-memory form of SparklesDialogue: dialogues, messages and the images they mention."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

IMAGE_TOKEN = "<ImageHere>"
IMAGE_BLOCK = "<Img><ImageHere></Img>"
# The lite LM's pretraining text writes an image as `<Img> w1 ... w9 </Img>`: after the 9 words comes a
# lone ' ' token before `</Img>`. A model on that LM puts the same text after each image's tokens, so the
# LM meets the projected tokens in the surroundings it learned (missing it cost 15 points of select).
LITE_TEXT_AFTER_IMAGE = " "
USER, ASSISTANT = "user", "assistant"

# IMAGE#<id> followed by a placeholder block; ids are letters, digits, '_' or '-'.
_BLOCK_RE = re.compile(r"IMAGE#([A-Za-z0-9_\-]+)" + re.escape(IMAGE_BLOCK))
# Any placeholder block, with the id written before it when there is one (LLaVA-for-Sparkles items
# also write a bare `<Img><ImageHere></Img>`): group 1 is the id or None.
ANY_PLACEHOLDER_RE = re.compile(r"(?:IMAGE#([A-Za-z0-9_\-]+))?" + re.escape(IMAGE_BLOCK))


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


def whole_id_pattern(image_id: str) -> re.Pattern:
    """`IMAGE#14` as a whole id: not inside `IMAGE#1417`, not already followed by a placeholder."""
    return re.compile(r"IMAGE#" + re.escape(str(image_id)) + r"(?![A-Za-z0-9_\-])(?!" + re.escape(IMAGE_BLOCK) + ")")


def insert_placeholders(text: str, image_ids: list[str]) -> str:
    """Put `<Img><ImageHere></Img>` after the first whole-id mention of each image.

    Raises ValueError naming the id when an image is never mentioned, so a placeholder is
    never silently missing.
    """
    for image_id in image_ids:
        if re.search(r"IMAGE#" + re.escape(str(image_id)) + re.escape(IMAGE_BLOCK), text):
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
