"""Where the LLM looks while it answers: attention mass on each image, on text, and on patches.

Conventions (all functions below share them):

* `SparklesChat.generate(..., output_attentions=True)` returns, per generation step, a tuple over
  layers of `[heads, query_len, key_len]`. Step 0 has the whole prompt as queries; its **last**
  query row is the one that produced the first answer token. Step `s >= 1` has one query row (the
  previous token read back in), which produced answer token `s`. So row `s` of everything here is
  *the attention that produced answer token s*: when the model writes the `5` of `IMAGE#5`, row
  `s` says where it looked to decide on `5`.
* Key positions `< len(prompt)` are classified by `prompt.image_index` (image 0..n-1, or -1 for
  text); keys at or after the prompt are the answer's own earlier tokens and count as text.
* Attention rows are softmax outputs, so for every (token, layer, head) the image columns and the
  text column of `AttentionSummary.mass` sum to 1.

Pure torch/numpy: no plotting here (see `sparkles_lite.viz.plots`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from sparkles_lite.data.schema import IMAGE_MENTION, IMG_OPEN

# ---------------------------------------------------------------- the summary

class AnswerWords:
    """Words and image mentions of an answer's tokens, for the summaries of one answer (attention here,
    influence in `sparkles_lite.viz.influence`): they have `tokens`, `text`, `offsets` (each token's
    character span in `text`) and `image_labels` (`IMAGE#<id>` per image of the prompt)."""

    tokens: list[str]
    text: str
    offsets: list[tuple[int, int]]
    image_labels: list[str]

    def words(self) -> list[tuple[str, list[int]]]:
        """Tokens grouped into words (a new word starts at a token beginning with a space), so
        `IMAGE#5076` (tokens ` IMAGE`, `#`, `5`, `0`, `7`, `6`) is one row: (word, token indices)."""
        groups: list[tuple[str, list[int]]] = []
        for i, tok in enumerate(self.tokens):
            if not groups or tok[:1].isspace() or not tok.strip() or not groups[-1][0].strip():
                groups.append((tok, [i]))
            else:
                word, idx = groups[-1]
                groups[-1] = (word + tok, idx + [i])
        return [(w.strip() or w, idx) for w, idx in groups]

    def mentions(self) -> list[dict]:
        """`IMAGE#<id>` mentions in the answer: {'id', 'image' (index or None when the id is not one of
        the prompt's images), 'tokens' (indices of the tokens spelling the id after `#`)}."""
        out = []
        ids = [label.removeprefix("IMAGE#") for label in self.image_labels]
        for m in IMAGE_MENTION.finditer(self.text):
            start, end = m.span(1)
            toks = [i for i, (a, b) in enumerate(self.offsets) if a < end and b > start and b > a]
            image = ids.index(m.group(1)) if m.group(1) in ids else None
            out.append({"id": m.group(1), "image": image, "tokens": toks})
        return out


@dataclass
class AttentionSummary(AnswerWords):
    """Attention of each answer token, split by what it lands on.

    tokens:        the answer's tokens as text (the stop marker, `###` or `<|im_end|>`, left out)
    image_labels:  one label per image in the prompt, in placeholder order (`IMAGE#<id>`)
    mass:          [tokens, layers, heads, n_images + 1]: share of the attention row on each image's
                   tokens, last column on text (prompt text and earlier answer tokens)
    image_tokens:  [tokens, layers, heads, n_images, K]: the same split per pooled image token
    """

    tokens: list[str]
    image_labels: list[str]
    mass: np.ndarray
    image_tokens: np.ndarray
    text: str = ""
    offsets: list[tuple[int, int]] = field(default_factory=list)  # char span of each token in `text`

    @property
    def n_images(self) -> int:
        return len(self.image_labels)

    @property
    def n_layers(self) -> int:
        return self.mass.shape[1]

    @property
    def n_heads(self) -> int:
        return self.mass.shape[2]

    @property
    def columns(self) -> list[str]:
        return self.image_labels + ["text"]

    def select(self, layer: int | None = None, head: int | None = None) -> np.ndarray:
        """[tokens, n_images + 1]: one layer and/or head, or the mean over those left as None."""
        return _select(self.mass, layer, head)

    def image_share(self, layer: int | None = None, head: int | None = None) -> np.ndarray:
        """[tokens, n_images]: attention on each image normalised over image tokens only (rows sum to 1;
        a row of zeros if a token put no attention at all on images)."""
        m = self.select(layer, head)[:, :-1]
        total = m.sum(axis=1, keepdims=True)
        return np.divide(m, total, out=np.zeros_like(m), where=total > 0)

    def by_words(self, layer: int | None = None, head: int | None = None) -> tuple[list[str], np.ndarray]:
        """(words, [words, n_images + 1]): `select` averaged over the tokens of each word."""
        rows = self.select(layer, head)
        groups = self.words()
        return [w for w, _ in groups], np.stack([rows[idx].mean(axis=0) for _, idx in groups]) if groups \
            else np.zeros((0, self.n_images + 1))


def _select(array: np.ndarray, layer: int | None, head: int | None) -> np.ndarray:
    """Index or average axes 1 (layers) and 2 (heads) of a [tokens, layers, heads, ...] array."""
    a = array[:, layer:layer + 1] if layer is not None else array
    a = a[:, :, head:head + 1] if head is not None else a
    return a.mean(axis=(1, 2))


def prompt_image_labels(prompt, tokenizer) -> list[str]:
    """`IMAGE#<id>` for each image of an assembled prompt, read from the text just before its tokens;
    `image <n>` where the text names none."""
    labels = []
    for n in range(prompt.n_images):
        first = prompt.image_index.index(n)
        before = tokenizer.decode(prompt.input_ids[max(0, first - 24):first], skip_special_tokens=True)
        found = IMAGE_MENTION.findall(before.replace(IMG_OPEN, " "))
        labels.append(f"IMAGE#{found[-1]}" if found else f"image {n + 1}")
    return labels


def answer_length(generated, model) -> int:
    """How many of the generated tokens are the answer: up to the LM's stop token (`###`,
    `<|im_end|>`: `model.chat_format`), without a trailing pad or end-of-sequence token."""
    ids, tok = list(generated.token_ids), model.tokenizer
    n = model.chat_format.answer_length(ids)
    while n and ids[n - 1] in (tok.eos_token_id, tok.pad_token_id):
        n -= 1
    return n


def token_pieces(tokenizer, ids: list[int]) -> tuple[list[str], list[tuple[int, int]]]:
    """Each token decoded alone, and its character span in the concatenation of the pieces."""
    pieces = [tokenizer.decode([i], skip_special_tokens=False) for i in ids]
    offsets, pos = [], 0
    for p in pieces:
        offsets.append((pos, pos + len(p)))
        pos += len(p)
    return pieces, offsets


def image_positions(image_index: list[int]) -> list[torch.Tensor]:
    """For each image of a position map (`Assembled.image_index`: image 0..n-1, -1 for text), its positions."""
    index = torch.as_tensor(list(image_index), dtype=torch.long)
    n_images = int(index.max()) + 1 if len(index) else 0
    return [torch.nonzero(index == i).flatten() for i in range(n_images)]


def attention_per_image(rows: torch.Tensor, image_index: list[int]) -> torch.Tensor:
    """Attention mass on each image: rows [..., keys] summed over each image's positions in the position
    map -> [..., n_images]. Keys past the map (tokens generated after the prompt) are text."""
    positions = image_positions(image_index)
    if not positions:
        return rows.new_zeros(*rows.shape[:-1], 0)
    return torch.stack([rows[..., p].sum(-1) for p in positions], dim=-1)


def image_attention(generated, model, image_labels: list[str] | None = None) -> AttentionSummary:
    """Split the attention behind every answer token of `generated` (from
    `model.generate(..., output_attentions=True)`) into images and text; see the module docstring."""
    if not generated.attentions:
        raise ValueError("no attentions: call model.generate(..., output_attentions=True)")
    tok = model.tokenizer
    prompt = generated.prompt
    n_images, k = prompt.n_images, model.tokens_per_image
    ids = list(generated.token_ids)
    n_answer = min(answer_length(generated, model), len(generated.attentions))
    positions = image_positions(prompt.image_index)
    mass_rows, token_rows = [], []
    for step in range(n_answer):
        layers = generated.attentions[step]
        row = torch.stack([layer[:, -1, :] for layer in layers])  # [L, H, keys]
        per_token = torch.stack([row[..., p] for p in positions], dim=2) if n_images \
            else row.new_zeros(row.shape[0], row.shape[1], 0, k)  # [L, H, n, K]
        on_images = attention_per_image(row, prompt.image_index)        # [L, H, n]
        text = row.sum(-1) - on_images.sum(-1)                         # everything else
        mass_rows.append(torch.cat([on_images, text.unsqueeze(-1)], dim=-1))
        token_rows.append(per_token)
    pieces, offsets = token_pieces(tok, ids[:n_answer])
    labels = image_labels or prompt_image_labels(prompt, tok)
    if len(labels) != n_images:
        raise ValueError(f"{len(labels)} image labels for {n_images} images in the prompt")
    n_l, n_h = len(generated.attentions[0]), generated.attentions[0][0].shape[0]
    mass = torch.stack(mass_rows).numpy() if mass_rows else np.zeros((0, n_l, n_h, n_images + 1))
    tokens = torch.stack(token_rows).numpy() if token_rows else np.zeros((0, n_l, n_h, n_images, k))
    return AttentionSummary(pieces, list(labels), mass, tokens, "".join(pieces), offsets)


# ---------------------------------------------------------------- down to patches

def pooling_attention(model, images) -> np.ndarray:
    """[n_images, K, grid, grid]: how much each pooled image token (query) read from each patch.

    Query pooling (the Q-Former's role): `QueryPooling.last_attention`, averaged over its heads.
    No pooling (every patch is a token): the identity.
    """
    grid = model.vision.grid
    with torch.no_grad():
        model.encode_images(list(images), keep_attention=True)
    att = getattr(model.pooling, "last_attention", None)
    if att is None:
        if model.tokens_per_image != grid * grid:
            raise ValueError("the pooling keeps no attention and its tokens are not patches")
        att = torch.eye(grid * grid).expand(len(images), -1, -1)
    return att.float().cpu().reshape(len(images), -1, grid, grid).numpy()


def patch_attention(summary: AttentionSummary, model, images, token: int | list[int],
                    layer: int | None = None, head: int | None = None,
                    pooling: np.ndarray | None = None) -> np.ndarray:
    """[n_images, grid, grid]: attention of an answer token (or the mean of several, e.g. a word's)
    carried down to the patches of each image.

    Approximation (one step of *attention rollout* through the pooling): the LLM's attention on
    image i's pooled token q, a(i, q), is spread over patches in proportion to how much q read from
    each patch, P(i, q, p), giving heat(i, p) = sum_q a(i, q) * P(i, q, p). The projection acts on
    each token separately, so it does not mix tokens and needs no step of its own. What this leaves
    out: the value vectors and residual paths (attention weight is not influence), the pooling's
    MLP, and the vision tower's own self-attention, which has already mixed information between
    patches before pooling. Read the maps as "where the attended tokens drew from", not as proof of
    what the model used. The sum of heat(i, .) is the token's attention mass on image i, so maps of
    different images share one scale.
    """
    idx = [token] if isinstance(token, int) else list(token)
    a = _select(summary.image_tokens[idx], layer, head).mean(axis=0)  # [n, K]
    pool = pooling if pooling is not None else pooling_attention(model, images)
    return np.einsum("nq,nqhw->nhw", a, pool)
