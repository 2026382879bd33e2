"""Multi-turn, multi-image chat with a SparklesChat model.

    chat = Chat(SparklesChat.from_pretrained("sparkleschat-lite"))
    chat.add_image("a.png"), chat.add_image("b.png")        # -> "IMAGE#1", "IMAGE#2"
    chat.ask("Which of IMAGE#1 and IMAGE#2 has more objects?")
    print(chat.answer())
    chat.ask("What is in IMAGE#3?", images=["c.png"])        # images given here are added first
    print(chat.answer())

Images are numbered in upload order. An image enters the conversation in the first question
after its upload: its placeholder `<Img><ImageHere></Img>` goes right after the first mention of
`IMAGE#n` (as in SparklesDialogue), or, if the question does not mention it, the image is put
in front of the question as `Here is IMAGE#n<Img><ImageHere></Img>.` (the phrase the lite
training dialogues use). Every later turn can refer to it by
name; the model sees it where it was introduced.

A conversation longer than the model's context loses its first turns, with the images they
introduced: the answer says so (`answer.forgotten`, None while nothing has left). A question that
holds the format's turn markers (`###`, the LM's special tokens) is refused: it would forge a turn.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from PIL import Image

from sparkles_lite.data.images import ImageLoadError, check_size, open_image, to_rgb
from sparkles_lite.data.schema import (ASSISTANT, IMAGE_BLOCK, IMAGE_ID, IMAGE_TOKEN, USER, ImageRef, Message,
                                       forged_turn, insert_placeholders, mentioned_ids, placeholder_ids)
from sparkles_lite.model.assembly import TurnsDropped


class ChatError(ValueError):
    """Something the user can fix: an image never given, an unreadable file, a turn out of order."""


def load_image(image: Image.Image | str | Path) -> Image.Image:
    """A PIL image, or a path read fully now (so a bad file fails here, naming the file); either
    within the pixel limit and in RGB (`data.images.open_image`)."""
    if isinstance(image, Image.Image):
        try:
            check_size(image.width, image.height, "the image")
        except ImageLoadError as e:
            raise ChatError(str(e)) from None
        return to_rgb(image)
    path = Path(image)
    if not path.exists():
        raise ChatError(f"image file not found: {path}")
    if path.is_dir():
        raise ChatError(f"image path is a directory, not an image file: {path}")
    try:
        return open_image(path, f"image file {path}")
    except ImageLoadError as e:
        raise ChatError(str(e)) from None


def place_mentioned(text: str, uploaded: Collection[str], introduced: Collection[str] = ()) -> tuple[str, list[str]]:
    """`text` with a placeholder after the first mention of each image it names that is not yet in the
    conversation (`introduced`), and those images' ids in placeholder order (their splice order). An id
    never uploaded is a ChatError, never a guess."""
    mentioned = mentioned_ids(text)
    unknown = [i for i in mentioned if i not in uploaded]
    if unknown:
        given = ", ".join(f"IMAGE#{i}" for i in uploaded) or "none"
        raise ChatError(f"{', '.join('IMAGE#' + i for i in unknown)} "
                        f"{'is' if len(unknown) == 1 else 'are'} mentioned but never given "
                        f"(images given: {given})")
    new = [i for i in mentioned if i not in introduced]
    text = insert_placeholders(text, new)
    return text, [i for i in placeholder_ids(text) if i in new]


@dataclass
class Forgotten:
    """What left the model's context with one answer: whole turns (numbered from 1) and the images
    they introduced; `note` says it in one line."""

    turns: list[int]
    images: list[str]
    max_length: int

    @property
    def note(self) -> str:
        turns = f"turn {self.turns[0]}" if len(self.turns) == 1 else "turns " + ", ".join(map(str, self.turns))
        images = f" with {', '.join(self.images)}" if self.images else ""
        return (f"{turns}{images} left the context: the conversation is longer than the model's "
                f"{self.max_length} positions, so the model no longer sees {'it' if len(self.turns) == 1 else 'them'}"
                f"{' (nor those images)' if self.images else ''}")


class Answer(str):
    """The model's reply (a str), and what left the context with it (`forgotten`, None if nothing)."""

    forgotten: Forgotten | None

    def __new__(cls, text: str, forgotten: Forgotten | None = None) -> "Answer":
        answer = super().__new__(cls, text)
        answer.forgotten = forgotten
        return answer


@dataclass
class ChatImage:
    image_id: str
    image: Image.Image
    source: str          # file name or '<PIL image>'
    introduced: bool = False


class Chat:
    """Conversation state around a model: history, images in placeholder order, pending uploads."""

    def __init__(self, model):
        self.model = model
        self.clear()

    # ------------------------------------------------------------ state
    def clear(self) -> None:
        """Forget the conversation and all images; numbering starts again at IMAGE#1."""
        self.history: list[Message] = []
        self._images: dict[str, ChatImage] = {}     # upload order
        self._order: list[str] = []                  # placeholder order across the history
        self._outside = 0                            # leading messages no longer in the model's context

    @property
    def images(self) -> list[Image.Image]:
        """Images in the order their placeholders appear in the history (the splice order)."""
        return [self._images[i].image for i in self._order]

    @property
    def image_ids(self) -> list[str]:
        """All uploaded image references, in upload order (introduced or not yet)."""
        return [f"IMAGE#{i}" for i in self._images]

    @property
    def pending(self) -> list[str]:
        """References of images uploaded but not yet part of a question."""
        return [f"IMAGE#{i}" for i, c in self._images.items() if not c.introduced]

    # ------------------------------------------------------------ turns
    def add_image(self, image: Image.Image | str | Path, image_id: str | None = None) -> str:
        """Upload an image; it joins the conversation with the next question. Returns `IMAGE#n`."""
        img = load_image(image)
        if image_id is None:
            n = len(self._images) + 1
            while str(n) in self._images:
                n += 1
            image_id = str(n)
        image_id = str(image_id)
        if not re.fullmatch(IMAGE_ID, image_id):
            raise ChatError(f"image id {image_id!r}: use letters, digits, '_' or '-'")
        if image_id in self._images:
            raise ChatError(f"IMAGE#{image_id} was already given")
        source = str(image) if isinstance(image, (str, Path)) else "<PIL image>"
        self._images[image_id] = ChatImage(image_id, img, source)
        return f"IMAGE#{image_id}"

    def ask(self, text: str, images: list[Image.Image | str | Path] | None = None) -> Message:
        """Add a user message. `images` are uploaded first (numbered on from the last upload).
        On error nothing changes: images added by this call are removed again."""
        if self.history and self.history[-1].role == USER:
            raise ChatError("the last question has no answer yet: call answer() before asking again")
        before = dict(self._images)
        try:
            for img in images or []:
                self.add_image(img)
            message = self._user_message(text)
        except Exception:
            self._images = before
            raise
        for ref in message.images:
            self._images[ref.image_id].introduced = True
            self._order.append(ref.image_id)
        self.history.append(message)
        return message

    def _user_message(self, text: str) -> Message:
        if not isinstance(text, str):
            raise ChatError(f"a question is text (a str), got {type(text).__name__}")
        text = text.strip()
        if IMAGE_TOKEN in text.replace(IMAGE_BLOCK, ""):
            raise ChatError(f"{IMAGE_TOKEN} may only appear as IMAGE#n{IMAGE_BLOCK}")
        forged = forged_turn(text, getattr(getattr(self.model, "tokenizer", None), "all_special_tokens", ()))
        if forged:
            raise ChatError(f"the question cannot be asked: {forged}")
        typed = placeholder_ids(text)
        introduced = [i for i, c in self._images.items() if c.introduced]
        text, placed = place_mentioned(text, self._images, introduced)
        for i in typed:
            if self._images[i].introduced:
                raise ChatError(f"IMAGE#{i} is already in the conversation: refer to it without a placeholder")
        new = [i for i, c in self._images.items() if not c.introduced]
        unmentioned = [i for i in new if i not in placed]
        if unmentioned:  # introduced the way SparklesDialogue-lite does: "Here are IMAGE#1<Img>... and ..."
            blocks = [f"IMAGE#{i}{IMAGE_BLOCK}" for i in unmentioned]
            listed = blocks[0] if len(blocks) == 1 else ", ".join(blocks[:-1]) + " and " + blocks[-1]
            text = f"{'Here is' if len(blocks) == 1 else 'Here are'} {listed}. {text}".strip()
        if not text:
            raise ChatError("empty message: ask something or add an image")
        order = placeholder_ids(text)
        if text.count(IMAGE_TOKEN) != len(order) or sorted(order) != sorted(new):
            raise ChatError(f"could not place the images {new} in the message: {text[:120]!r}")
        return Message(USER, text, [ImageRef(i) for i in order])

    def answer(self, max_new_tokens: int = 64, do_sample: bool = False, temperature: float = 1.0,
               top_p: float = 1.0, seed: int | None = None,
               on_text: Callable[[str], None] | None = None) -> Answer:
        """Generate the reply to the last question with the history and images the context holds; the
        reply joins the history. `on_text` receives the growing reply while it streams. The reply says
        which turns and images left the context with it (`Answer.forgotten`)."""
        if not self.history or self.history[-1].role != USER:
            raise ChatError("nothing to answer: ask() a question first")
        if seed is not None:
            torch.manual_seed(seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TurnsDropped)  # said on the answer instead
                out = self.model.generate(self.history, self.images, max_new_tokens=max_new_tokens,
                                          do_sample=do_sample, temperature=temperature, top_p=top_p, on_text=on_text)
        except Exception:
            self._withdraw_last_question()  # e.g. the question alone is too long: let the user rephrase
            raise
        self.history.append(Message(ASSISTANT, out.text))
        return Answer(out.text, self._newly_forgotten(len(out.prompt.dropped_messages)))

    def _newly_forgotten(self, outside: int) -> Forgotten | None:
        """The turns (and their images) among the first `outside` messages that were still in the context."""
        if outside <= self._outside:
            return None
        left = self.history[self._outside:outside]
        turns = sorted({(self._outside + k) // 2 + 1 for k, m in enumerate(left) if m.role == USER})
        self._outside = outside
        return Forgotten(turns, [f"IMAGE#{r.image_id}" for m in left for r in m.images],
                         self.model.config.max_length)

    def _withdraw_last_question(self) -> None:
        """Remove the unanswered last question; its images become pending again."""
        message = self.history.pop()
        for ref in message.images:
            self._images[ref.image_id].introduced = False
            self._order.remove(ref.image_id)

    def __call__(self, text: str, images: list | None = None, **generation) -> Answer:
        """ask + answer in one call."""
        self.ask(text, images)
        return self.answer(**generation)
