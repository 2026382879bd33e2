"""Interleaved token assembly: a conversation with image placeholders -> model inputs.

The conversation format belongs to the LM. An LM whose tokenizer has a chat template (SmolLM2,
Qwen2.5, Llama-3 instruct) gets that template, rendered by `tokenizer.apply_chat_template`; the lite
LM and LMs without one (Vicuna) get the paper's `###Human: q1###Assistant: a1###Human: q2...`.
Either way the text is tokenized once, and each `<ImageHere>` is expanded to K copies of itself: one
position per image token, so a boolean mask says exactly where the projected image tokens are
spliced in, and the position map says which position belongs to which image, which to text, which
to which turn. Labels supervise only the assistant's text and the end-of-turn marker that closes it
(`###`, `<|im_end|>`, `<|eot_id|>`...), which is also where generation stops: every answer of the
conversation (this project's choice for whole dialogues), or only the last one (`supervise="last"`: a
per-turn training item, as the paper trains).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from transformers import PreTrainedTokenizerBase

from sparkles_lite.data.schema import ASSISTANT, IMAGE_TOKEN, SEP, USER, Message

IGNORE = -100


class AssemblyError(ValueError):
    """A conversation that cannot be turned into model inputs; the message says why."""


class TurnsDropped(UserWarning):
    """A conversation too long for the context lost its first turns (the chat reports them itself)."""


@dataclass
class Assembled:
    """One conversation as token positions; per-position maps are plain lists for easy display."""

    input_ids: list[int]
    labels: list[int]
    image_index: list[int]          # per position: which image (0..n-1), -1 for text
    message_index: list[int]        # per position: which message (original numbering), -1 for BOS
    n_images: int
    dropped_messages: list[int] = field(default_factory=list)
    dropped_images: int = 0         # images (placeholder order) that went with the dropped messages

    def __len__(self) -> int:
        return len(self.input_ids)


SUPERVISE = ("all", "last")


def render_conversation(messages: list[Message], add_generation_prompt: bool, bos: str | None
                        ) -> tuple[str, list[tuple[int, int]], list[tuple[int, int, int]]]:
    """Template text, supervised character spans, and (start, end, message index) spans.

    The paper's format, character for character: `###Human: q1###Assistant: a1###Human: q2###Assistant: a2###`.
    One `###` sits between turns: the `###` that ends an answer (its stop marker, supervised with it)
    is also the separator before the next `Human:`.
    """
    text = bos or ""
    supervised: list[tuple[int, int]] = []
    spans: list[tuple[int, int, int]] = []
    after_answer = False  # the previous answer's `###` already opened this message
    for i, m in enumerate(messages):
        start = len(text)
        if m.role == USER:
            text += ("" if after_answer else SEP) + "Human: " + m.content
        elif m.role == ASSISTANT:
            text += SEP + "Assistant: "
            answer_start = len(text)
            text += m.content + SEP
            supervised.append((answer_start, len(text)))
        else:
            raise AssemblyError(f"message {i}: unknown role {m.role!r}; expected 'user' or 'assistant'")
        after_answer = m.role == ASSISTANT
        spans.append((start, len(text), i))
    if add_generation_prompt:  # as the official chat: `###Assistant:`, no space (it belongs to the answer's 'ĠThe')
        text += ("" if after_answer else SEP) + "Assistant:"
    return text, supervised, spans


def render_template(messages: list[Message], tokenizer: PreTrainedTokenizerBase, add_generation_prompt: bool
                    ) -> tuple[str, list[tuple[int, int]], list[tuple[int, int, int]]]:
    """`render_conversation` for an LM with a chat template: the template's own text, whatever it writes around the
    messages (a default system prompt, role headers, its own BOS), and the same spans.

    Each assistant message's supervised span (its content and the end-of-turn token after it) is found
    by rendering growing prefixes of the conversation: the prompt up to the generation prompt, then the
    same with the answer. A template whose prefixes do not extend each other (one that rewrites earlier
    turns) cannot be trained on turn by turn, and is an error. The template's preamble before the first
    message's content belongs to no message (-1), like the paper format's BOS.
    """
    dicts = [{"role": m.role, "content": m.content} for m in messages]
    for i, m in enumerate(messages):
        if m.role not in (USER, ASSISTANT):
            raise AssemblyError(f"message {i}: unknown role {m.role!r}; expected 'user' or 'assistant'")
    text = _apply_template(tokenizer, dicts, add_generation_prompt)
    supervised: list[tuple[int, int]] = []
    spans: list[tuple[int, int, int]] = []
    start = _find(text, messages[0].content.strip(), 0, "message 0") if messages else 0
    for i, m in enumerate(messages):
        upto = _apply_template(tokenizer, dicts[:i + 1], False)
        if not text.startswith(upto):
            raise AssemblyError(f"the chat template renders messages 0-{i} differently inside the whole "
                                "conversation (it rewrites earlier turns): cannot assemble it turn by turn")
        if m.role == ASSISTANT:
            prompt = _apply_template(tokenizer, dicts[:i], True)
            if not upto.startswith(prompt):
                raise AssemblyError(f"message {i}: the chat template's generation prompt is not where "
                                    "the assistant message begins")
            answer_start = _find(upto, m.content.strip(), len(prompt), f"message {i}")
            answer_end = answer_start + len(m.content.strip())
            supervised.append((answer_start, answer_end + len(end_of_turn_at(tokenizer, upto, answer_end))))
        spans.append((start, len(upto), i))
        start = len(upto)
    return text, supervised, spans


def _apply_template(tokenizer: PreTrainedTokenizerBase, messages: list[dict], add_generation_prompt: bool) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except Exception as e:  # jinja2's TemplateError and whatever a template raises on purpose
        raise AssemblyError(f"the tokenizer's chat template rejects this conversation: {e}") from None


def _find(text: str, content: str, start: int, what: str) -> int:
    at = text.find(content, start)
    if at < 0:
        raise AssemblyError(f"{what}: the chat template changes the message text, so its tokens cannot be located")
    return at


def end_of_turn_at(tokenizer: PreTrainedTokenizerBase, text: str, pos: int) -> str:
    """The end-of-turn marker that follows an answer ending at `pos` (spaces before it included): the
    longest special token there, e.g. `<|im_end|>`; an error if the template writes none."""
    rest = text[pos:]
    stripped = rest.lstrip(" ")
    specials = sorted({t.content for t in tokenizer.added_tokens_decoder.values() if t.special}, key=len, reverse=True)
    for token in specials:
        if stripped.startswith(token):
            return rest[:len(rest) - len(stripped) + len(token)]
    raise AssemblyError(f"the chat template ends an answer with {rest[:20]!r}, not with a special token: "
                        "there is no end-of-turn token to supervise and to stop generation at")


@dataclass(frozen=True)
class ChatFormat:
    """How one LM's conversations become text, and where its answers end.

    `template`: the tokenizer's chat template (`render_template`), else the paper's `###` format
    (`render_conversation`). `stop_ids`: generation stops at any of these (the end-of-turn token and EOS); the
    paper format on a tokenizer where `###` is several tokens stops at the string `stop_text` instead.
    """

    template: bool
    stop_ids: tuple[int, ...]
    stop_text: str

    @classmethod
    def for_tokenizer(cls, tokenizer: PreTrainedTokenizerBase, template: bool) -> "ChatFormat":
        if not template:
            sep = tokenizer.convert_tokens_to_ids(SEP)
            single = sep is not None and sep != tokenizer.unk_token_id
            return cls(False, (sep,) if single else (), SEP)
        probe = [{"role": USER, "content": "Hi"}, {"role": ASSISTANT, "content": "Hello"}]
        text = _apply_template(tokenizer, probe, False)
        eot = end_of_turn_at(tokenizer, text, _find(text, "Hello", len(_apply_template(tokenizer, probe[:1], True)),
                                                    "the probe answer") + len("Hello")).strip()
        ids = [tokenizer.convert_tokens_to_ids(eot)]
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
            ids.append(tokenizer.eos_token_id)
        return cls(True, tuple(ids), eot)

    def generate_kwargs(self, tokenizer: PreTrainedTokenizerBase, pad_id: int) -> dict:
        """`generate(...)` arguments that stop at the end of the answer."""
        if self.stop_ids:
            return {"eos_token_id": list(self.stop_ids), "pad_token_id": pad_id}
        return {"stop_strings": [self.stop_text], "tokenizer": tokenizer, "pad_token_id": pad_id}

    def answer_length(self, ids: list[int]) -> int:
        """How many of the generated `ids` are the answer: those before the first stop token."""
        return next((i for i, t in enumerate(ids) if t in self.stop_ids), len(ids))

    def answer_text(self, tokenizer: PreTrainedTokenizerBase, ids: list[int]) -> str:
        """Generated ids -> answer: cut at the first stop (a token, or the text `###` where it is
        several tokens), special tokens and padding dropped."""
        return cut_answer(tokenizer.decode(ids[:self.answer_length(ids)], skip_special_tokens=True), self.stop_text)


def cut_answer(text: str, stop: str = SEP) -> str:
    """The answer in decoded text: everything before the first `stop` (after the paper format's `###`
    the model would write the next turn), stripped."""
    return text.split(stop)[0].strip()


def check_images(messages: list[Message]) -> int:
    """Placeholders and images must agree message by message: a mismatch is an error, never a guess."""
    total = 0
    for i, m in enumerate(messages):
        n_placeholders = m.content.count(IMAGE_TOKEN)
        if m.role == ASSISTANT and n_placeholders:
            raise AssemblyError(f"message {i} (assistant) contains {n_placeholders} image placeholder(s)")
        if n_placeholders != len(m.images):
            ids = ", ".join(f"IMAGE#{r.image_id}" for r in m.images) or "none"
            raise AssemblyError(f"message {i}: {n_placeholders} {IMAGE_TOKEN} placeholder(s) but "
                                f"{len(m.images)} image(s) given ({ids})")
        total += n_placeholders
    return total


def assemble(messages: list[Message], tokenizer: PreTrainedTokenizerBase, tokens_per_image: int,
             max_length: int, add_generation_prompt: bool = False, after_image: str = "",
             template: bool = False, supervise: str = "all") -> Assembled:
    """Token ids, labels and the position map for one conversation.

    `template`: render with the tokenizer's chat template (`render_template`) instead of the paper's
    format (`render_conversation`). `after_image`: text placed after each image's K positions (before
    `</Img>`), for an LM pretrained on a text view of images that has it there
    (`LMConfig.text_after_image`: the lite LM's ' '). `supervise`: label every answer ('all') or only
    the last ('last').

    Too long? Whole turns (a user message and its answer) are dropped from the left, with a
    warning naming them; images go with the message that introduced them, never cut through.
    """
    check_images(messages)
    users = [i for i, m in enumerate(messages) if m.role == USER]
    if not users:
        raise AssemblyError("the conversation has no user message")
    first = 0
    while True:
        out = _assemble_kept(messages[first:], tokenizer, tokens_per_image, add_generation_prompt, offset=first,
                             after_image=after_image, template=template, supervise=supervise)
        if len(out) <= max_length:
            break
        if first + 2 > users[-1]:
            raise AssemblyError(f"the last turn alone needs {len(out)} tokens, more than max_length={max_length}")
        first += 2
    if first:
        dropped_images = sum(len(m.images) for m in messages[:first])
        out.dropped_messages, out.dropped_images = list(range(first)), dropped_images
        warnings.warn(f"conversation too long for max_length={max_length}: dropped messages 0-{first - 1} "
                      f"({dropped_images} image(s) with them)", TurnsDropped, stacklevel=2)
    return out


def _assemble_kept(messages: list[Message], tokenizer: PreTrainedTokenizerBase, k: int,
                   add_generation_prompt: bool, offset: int, after_image: str = "", template: bool = False,
                   supervise: str = "all") -> Assembled:
    if supervise not in SUPERVISE:
        raise ValueError(f"supervise must be one of {SUPERVISE}, got {supervise!r}")
    if template:
        text, supervised, spans = render_template(messages, tokenizer, add_generation_prompt)
    else:
        text, supervised, spans = render_conversation(messages, add_generation_prompt, tokenizer.bos_token)
    if supervise == "last":  # a per-turn item: only its final answer (spans come in message order)
        supervised = supervised[-1:]
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    after_ids = tokenizer(after_image, add_special_tokens=False).input_ids if after_image else []
    ids, labels, image_index, message_index = [], [], [], []
    n_images, span_i, sup_i = 0, 0, 0
    for tok, (start, end) in zip(enc["input_ids"], enc["offset_mapping"]):
        # A token belongs where its last character is: 'ĠThere' starts on the template's space.
        last = max(start, end - 1)
        while span_i < len(spans) and start >= spans[span_i][1]:
            span_i += 1
        msg = spans[span_i][2] + offset if span_i < len(spans) and start >= spans[span_i][0] else -1
        while sup_i < len(supervised) and last >= supervised[sup_i][1]:
            sup_i += 1
        is_answer = sup_i < len(supervised) and supervised[sup_i][0] <= last < supervised[sup_i][1]
        if tok == image_id:
            ids += [image_id] * k + after_ids
            labels += [IGNORE] * (k + len(after_ids))
            image_index += [n_images] * k + [-1] * len(after_ids)
            message_index += [msg] * (k + len(after_ids))
            n_images += 1
            continue
        ids.append(tok)
        labels.append(tok if is_answer else IGNORE)
        image_index.append(-1)
        message_index.append(msg)
    return Assembled(ids, labels, image_index, message_index, n_images)


@dataclass
class Batch:
    input_ids: torch.Tensor        # [B, L]
    attention_mask: torch.Tensor   # [B, L]
    labels: torch.Tensor           # [B, L]
    image_mask: torch.Tensor       # [B, L] True where an image token goes
    images_per_example: list[int]

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.labels.to(device),
                     self.image_mask.to(device), self.images_per_example)


def round_up(n: int, multiple: int) -> int:
    """The smallest multiple of `multiple` that is >= n: padded lengths and whole length groups."""
    return -(-n // multiple) * multiple


def collate(examples: list[Assembled], pad_id: int, padding_side: str = "right", pad_to_multiple: int = 1) -> Batch:
    """Dynamic padding to the longest example; left padding for batched generation.

    `pad_to_multiple` rounds the length up (64 on a GPU): length-grouped batches then share a few
    shapes instead of one each, and every new shape costs a GPU kernel search and fresh memory blocks.

    Images of the whole batch are consumed in order (example by example, image by image), which
    is exactly the row-major order of `image_mask`, so one masked assignment splices them all.
    """
    length = round_up(max(len(e) for e in examples), pad_to_multiple)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), length), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    image_mask = torch.zeros((len(examples), length), dtype=torch.bool)
    for row, e in enumerate(examples):
        n = len(e)
        sl = slice(0, n) if padding_side == "right" else slice(length - n, length)
        ids[row, sl] = torch.tensor(e.input_ids)
        labels[row, sl] = torch.tensor(e.labels)
        mask[row, sl] = 1
        image_mask[row, sl] = torch.tensor(e.image_index) >= 0
    return Batch(ids, mask, labels, image_mask, [e.n_images for e in examples])
