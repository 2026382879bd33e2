"""What each image *does* to an answer: remove it and measure how the answer's log-probability changes.

Attention (`sparkles_lite.viz.attention`) says where the weights go; it cannot say whether what was
read mattered. The causal view asks the model: score the answer it gave (teacher forcing, the very
token ids it generated), once with every image and once with image i removed, and compare:

    delta[token, i] = log p(token | all images) - log p(token | image i removed)

A positive delta means image i supported that token (without it the token became less likely); near 0
means the token did not need image i; negative means image i argued against it.

Two ways to remove an image (`ablation`):

* ``"blank"`` (the default): image i's tokens are replaced by those of a blank image (an empty lite
  canvas). The sequence keeps its length, its positions and its text; only the image's *content* goes.
  This is the cleaner experiment: nothing but the content changes.
* ``"drop"``: image i's `<Img><ImageHere></Img>` block is taken out of the text (the words `IMAGE#k`
  stay). The model then reads a name without an image, a sequence it never met in training, and every
  later position shifts, so a change mixes "the content is gone" with "the sequence is unusual".

Pure torch/numpy: figures are in `sparkles_lite.viz.plots`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from sparkles_lite.data.schema import IMAGE_BLOCK, Message
from sparkles_lite.model.assembly import Assembled, collate
from sparkles_lite.model.sparkles_chat import Generated, SparklesChat
from sparkles_lite.viz.attention import AnswerWords, answer_length, prompt_image_labels, token_pieces

ABLATIONS = ("blank", "drop")
BLANK_RGB = (235, 235, 235)
MIN_SUPPORT = 0.01  # nats (a 1 % change of probability): less is no preference for any image  # the lite world's empty canvas (`world.render` of a scene with no objects)


def blank_like(image: Image.Image) -> Image.Image:
    """A uniform image of the same size: an image with nothing in it."""
    return Image.new("RGB", image.size, BLANK_RGB)


@dataclass
class InfluenceSummary(AnswerWords):
    """How each answer token's log-probability depends on each image.

    tokens:        the answer's tokens as text (as in `AttentionSummary`: the stop marker left out)
    image_labels:  `IMAGE#<id>` per image of the prompt, in placeholder order
    logp:          [tokens]: log p of each answer token with every image present
    delta:         [tokens, n_images]: logp minus log p with image i removed (positive: i supported it)
    ablation:      "blank" or "drop" (see the module docstring)
    """

    tokens: list[str]
    image_labels: list[str]
    logp: np.ndarray
    delta: np.ndarray
    ablation: str = "blank"
    text: str = ""
    offsets: list[tuple[int, int]] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return len(self.image_labels)

    def by_words(self) -> tuple[list[str], np.ndarray]:
        """(words, [words, n_images]): delta summed over each word's tokens (a word's log-probability is
        the sum of its tokens')."""
        groups = self.words()
        rows = np.stack([self.delta[idx].sum(axis=0) for _, idx in groups]) if groups \
            else np.zeros((0, self.n_images))
        return [w for w, _ in groups], rows

    def support(self, tokens: list[int] | None = None) -> np.ndarray:
        """[n_images]: log-probability (nats) that `tokens` (default: the whole answer) lose when each
        image is removed: delta summed over the tokens."""
        idx = list(range(len(self.tokens))) if tokens is None else list(tokens)
        return self.delta[idx].sum(axis=0)

    def share(self, tokens: list[int] | None = None) -> np.ndarray:
        """[n_images]: how the support for `tokens` (default: the whole answer) divides between the
        images: the positive part of `support`, normalised to sum to 1. When removing no image lowers
        their probability by `MIN_SUPPORT` or more, no image is preferred and each gets 1 / n_images
        (a share of noise would be noise)."""
        support = np.clip(self.support(tokens), 0, None)
        total = support.sum()
        return support / total if total >= MIN_SUPPORT else np.full(self.n_images, 1.0 / max(1, self.n_images))


# ---------------------------------------------------------------- scoring an answer

@torch.no_grad()
def answer_logprobs(model: SparklesChat, prompt: Assembled, image_tokens: torch.Tensor,
                    answer_ids: list[int]) -> torch.Tensor:
    """[len(answer_ids)]: log p of each answer token after `prompt` (teacher forcing, one forward pass),
    the prompt's image positions filled with `image_tokens` [n_images, K, D]."""
    batch = collate([prompt], model.pad_id).to(model.device)
    prompt_embeds = model.embed(batch, image_tokens)
    ids = torch.tensor([answer_ids], dtype=torch.long, device=model.device)
    embeds = torch.cat([prompt_embeds, model.lm.get_input_embeddings()(ids).to(prompt_embeds.dtype)], dim=1)
    mask = torch.ones(embeds.shape[:2], dtype=batch.attention_mask.dtype, device=model.device)
    logits = model.lm(inputs_embeds=embeds, attention_mask=mask).logits[0]
    # Position t predicts token t + 1: the last prompt position predicts the first answer token.
    predicting = logits[len(prompt) - 1:len(prompt) - 1 + len(answer_ids)].float()
    return torch.log_softmax(predicting, dim=-1).gather(1, ids[0, :, None].to(predicting.device))[:, 0].cpu()


def without_image(messages: list[Message], n: int) -> list[Message]:
    """The conversation with its n-th image block (placeholder order) taken out of the text and that
    image's ImageRef out of its message; the words naming the image stay."""
    out, seen = [], 0
    for m in messages:
        k = m.content.count(IMAGE_BLOCK)
        if seen <= n < seen + k:
            parts, j = m.content.split(IMAGE_BLOCK), n - seen
            content = IMAGE_BLOCK.join(parts[:j + 1]) + IMAGE_BLOCK.join(parts[j + 1:])
            m = Message(m.role, content, m.images[:j] + m.images[j + 1:])
        out.append(m)
        seen += k
    if not 0 <= n < seen:
        raise ValueError(f"no image {n}: the conversation has {seen} image blocks")
    return out


@torch.no_grad()
def image_influence(model: SparklesChat, messages: list[Message], images: list[Image.Image],
                    generated: Generated, ablation: str = "blank",
                    image_labels: list[str] | None = None) -> InfluenceSummary:
    """Score `generated` (the model's answer to `messages` with `images`, placeholder order) with every
    image, then with each image removed (`ablation`: "blank" or "drop"), and return the differences."""
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {ablation!r}; expected one of {', '.join(ABLATIONS)}")
    tok = model.tokenizer
    prompt = model.assemble(messages, add_generation_prompt=True)
    if prompt.input_ids != generated.prompt.input_ids:
        raise ValueError("`generated` is not the answer to these messages: the prompts differ")
    skip = len(images) - prompt.n_images  # images of turns `assemble` dropped for length
    kept = list(images)[skip:]
    n_answer = answer_length(generated, model)
    answer_ids = list(generated.token_ids[:n_answer])
    tokens = model.encode_images(kept)
    full = answer_logprobs(model, prompt, tokens, answer_ids)
    blanks = model.encode_images([blank_like(im) for im in kept]) if ablation == "blank" else None
    removed = []
    for i in range(len(kept)):
        if ablation == "blank":
            ablated = tokens.clone()
            ablated[i] = blanks[i]
            removed.append(answer_logprobs(model, prompt, ablated, answer_ids))
        else:
            fewer = without_image(messages, skip + i)
            short = model.assemble(fewer, add_generation_prompt=True)
            rest = torch.cat([tokens[:i], tokens[i + 1:]])
            removed.append(answer_logprobs(model, short, rest, answer_ids))
    delta = (full[:, None] - torch.stack(removed, dim=1)) if removed else full.new_zeros(n_answer, 0)
    pieces, offsets = token_pieces(tok, answer_ids)
    labels = image_labels or prompt_image_labels(prompt, tok)
    return InfluenceSummary(pieces, list(labels), full.numpy(), delta.numpy(), ablation, "".join(pieces), offsets)
