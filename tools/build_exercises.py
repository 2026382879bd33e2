#!/usr/bin/env python
"""Write the exercise notebooks, exercises/NN_*.ipynb (stubs), and their worked solutions,
exercises/solutions/NN_*.ipynb, from the one list of lessons below.

    python tools/build_exercises.py             # write both sets (no outputs)
    python tools/build_exercises.py --execute   # ... then run the solutions in place (outputs: ✅ lines)

Every task is three cells: a markdown explanation, a code cell (stub: `raise NotImplementedError`;
solution: the worked answer, tagged `solution`) and a check cell (`check_x(f)` from
`sparkles_lite.exercises`, which prints ✅ / ❌ / ⬜ and returns True/False). Each notebook has a
`parameters` cell with `SMOKE` (the tests' convention; the exercises are light, nothing shrinks)
and ends with `summary()`. tests/test_exercises.py runs both sets.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
SOLUTIONS = EXERCISES / "solutions"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/: the Colab cell
from nb_colab import colab_cell  # noqa: E402
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


@dataclass
class Task:
    title: str
    explain: str        # markdown
    stub: str           # code the student completes (must raise NotImplementedError when called)
    solution: str       # the worked answer (same names)
    check: str          # check_<name>
    function: str       # the name passed to the check


@dataclass
class Lesson:
    stem: str           # file name without .ipynb; the lesson notebook has the same name
    title: str
    intro: str
    setup: str          # imports shared by the tasks
    tasks: list[Task] = field(default_factory=list)


def stub(signature: str, doc: str, pre: str = "") -> str:
    return f'{pre}def {signature}:\n    """{doc}"""\n    raise NotImplementedError  # your code here'


LESSONS: list[Lesson] = [
    # ------------------------------------------------------------------ 00
    Lesson("00_tour", "00 · The lite world", """\
The lite world is made of scenes with 1-3 coloured shapes (left, centre, right). Every fact about a
scene is known, so every answer about it can be checked. These two warm-up tasks use the scene API:
`scene.things` (left to right), and each thing's `.size`, `.colour`, `.shape`.""", """\
from sparkles_lite import world
from sparkles_lite.exercises import check_count_objects, check_describe, example_scenes, summary

scenes = example_scenes(seed=SEED, n=4)
for s in scenes:
    print([(t.size, t.colour, t.shape) for t in s.things])""", [
        Task("Describe a scene", """\
Write `describe(scene)`: the canonical English description the lite models learn to produce.

* Each object reads `a <size> <colour> <shape>`: `a big red circle`.
* **Identical** objects (same size, colour and shape) are grouped with a number word and a plural:
  `two small blue squares`, `three big green diamonds` (`world.NUMBER_WORDS[2] == "two"`).
* Groups come in the order of their first appearance, left to right.
* Phrases are joined with `, ` and a final ` and `: `a big red circle, two small blue squares and a
  small green triangle`.""",
             stub("describe(scene)", "'a big red circle and two small blue squares'"), '''\
def describe(scene):
    """'a big red circle and two small blue squares'"""
    groups = {}  # thing -> count, in order of first appearance (dicts keep insertion order)
    for thing in scene.things:
        groups[thing] = groups.get(thing, 0) + 1
    phrases = []
    for thing, n in groups.items():
        if n == 1:
            phrases.append(f"a {thing.size} {thing.colour} {thing.shape}")
        else:
            phrases.append(f"{world.NUMBER_WORDS[n]} {thing.size} {thing.colour} {thing.shape}s")
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]''', "check_describe", "describe"),
        Task("Count objects across scenes", """\
SparklesChat's questions often span images: *how many circles are there in IMAGE#1 and IMAGE#2
together?* Write `count_objects(scenes, shape=None, colour=None, size=None)`: the number of objects,
over all scenes, that match **every** attribute given (`None` matches anything).""",
             stub("count_objects(scenes, shape=None, colour=None, size=None)",
                  "Objects in all scenes matching every given attribute."), '''\
def count_objects(scenes, shape=None, colour=None, size=None):
    """Objects in all scenes matching every given attribute."""
    total = 0
    for scene in scenes:
        for t in scene.things:
            if ((shape is None or t.shape == shape) and (colour is None or t.colour == colour)
                    and (size is None or t.size == size)):
                total += 1
    return total''', "check_count_objects", "count_objects"),
    ]),
    # ------------------------------------------------------------------ 01
    Lesson("01_visual_encoder", "01 · Inside the visual encoder", """\
A ViT cuts an image into patches, embeds each patch with one linear map, and lets the patches attend
to each other. You will write the two pieces that carry the idea: cutting into patches, and the
attention weights of one head.""", """\
import torch
from sparkles_lite.exercises import check_attention_weights, check_patchify, summary""", [
        Task("Patchify", """\
Write `patchify(images, patch)`: `images` is `[B, C, H, W]`; return `[B, P, C·p·p]` with
`P = (H/p)·(W/p)` patches.

* Patches go **row by row** (top-left patch first, then to its right).
* Inside a patch, the numbers go **channel first, then row, then column**: exactly the order of a
  `Conv2d(C, D, kernel_size=p, stride=p)` weight, so `patchify(x) @ conv.weight.view(D, -1).T + conv.bias`
  equals the `LiteViT.patch_embed` output. A patch embedding *is* a Linear layer on patches.
* When `H` or `W` is not divisible by `p`, raise `ValueError`.

Hint: `reshape` to `[B, C, H/p, p, W/p, p]`, then `permute`; or use `Tensor.unfold` twice.""",
             stub("patchify(images, patch)", "[B, C, H, W] -> [B, (H/p)*(W/p), C*p*p]"), '''\
def patchify(images, patch):
    """[B, C, H, W] -> [B, (H/p)*(W/p), C*p*p]"""
    B, C, H, W = images.shape
    if H % patch or W % patch:
        raise ValueError(f"{H}x{W} images do not split into {patch}x{patch} patches")
    x = images.reshape(B, C, H // patch, patch, W // patch, patch)  # [B, C, rows, p, cols, p]
    x = x.permute(0, 2, 4, 1, 3, 5)                                # [B, rows, cols, C, p, p]
    return x.reshape(B, (H // patch) * (W // patch), C * patch * patch)''', "check_patchify", "patchify"),
        Task("Attention weights of one head", """\
Write `attention_weights(q, k)` for one head: `q` is `[N, d]` (queries), `k` is `[M, d]` (keys);
return the `[N, M]` matrix `softmax(q kᵀ / √d)`, each row summing to 1. This is the map
`vision.Block` keeps when you ask for `keep_attention`, and what notebook 09 reads in the LLM.

Write the softmax yourself: `exp` of each score divided by its row's sum. Large scores overflow
`exp`: subtracting each row's maximum first changes nothing mathematically and keeps it finite.""",
             stub("attention_weights(q, k)", "softmax(q k^T / sqrt(d)) row by row: [N, M]"), '''\
def attention_weights(q, k):
    """softmax(q k^T / sqrt(d)) row by row: [N, M]"""
    scores = q @ k.T / q.shape[-1] ** 0.5
    scores = scores - scores.max(dim=-1, keepdim=True).values  # exp of the largest score is exp(0) = 1
    e = scores.exp()
    return e / e.sum(dim=-1, keepdim=True)''', "check_attention_weights", "attention_weights"),
    ]),
    # ------------------------------------------------------------------ 02
    Lesson("02_projection", "02 · The projection", """\
The only layer SparklesChat trains maps vision features into the LLM's word-embedding space. How
big is it, and what do its outputs look like to the LLM?""", """\
import torch
from sparkles_lite.exercises import check_nearest_words, check_projection_params, summary""", [
        Task("Count the trainable parameters", """\
Write `projection_params(vision_dim, lm_dim, hidden=None)`: the number of parameters of
`sparkles_lite.model.projection.build_projection`:

* `hidden=None`: the paper's single `nn.Linear(vision_dim, lm_dim)` (weight **and** bias);
* `hidden=h`: a LLaVA-1.5-style MLP, `Linear(vision_dim, h) → GELU → Linear(h, lm_dim)`.

For the paper (Q-Former width 768 → Vicuna-7B width 4096) this is everything that trains: compare
it with the 7 billion frozen parameters of the LLM.""",
             stub("projection_params(vision_dim, lm_dim, hidden=None)", "Parameters of the projection."), '''\
def projection_params(vision_dim, lm_dim, hidden=None):
    """Parameters of the projection."""
    def linear(n_in, n_out):
        return n_in * n_out + n_out  # weight + bias
    if hidden is None:
        return linear(vision_dim, lm_dim)
    return linear(vision_dim, hidden) + linear(hidden, lm_dim)  # GELU has no parameters''',
             "check_projection_params", "projection_params"),
        Task("Nearest words", """\
A projected image token is a vector in the word-embedding space: which words is it closest to?
Write `nearest_words(vector, embeddings, vocab, k=3)`: `vector` is `[D]`, `embeddings` `[V, D]`
(one row per word of `vocab`); return the `k` words with the highest **cosine similarity**
(`a·b / (|a| |b|)`), most similar first. Not the dot product: a long embedding would win
by length alone.""",
             stub("nearest_words(vector, embeddings, vocab, k=3)", "The k words most cosine-similar to vector."), '''\
def nearest_words(vector, embeddings, vocab, k=3):
    """The k words most cosine-similar to vector."""
    v = vector / vector.norm()
    e = embeddings / embeddings.norm(dim=-1, keepdim=True)
    similarity = e @ v                                   # [V]
    best = similarity.argsort(descending=True)[:k]
    return [vocab[i] for i in best.tolist()]''', "check_nearest_words", "nearest_words"),
    ]),
    # ------------------------------------------------------------------ 03
    Lesson("03_interleaved_tokens", "03 · Interleaved tokens", """\
Images enter a message at the word that names them: `IMAGE#1<Img><ImageHere></Img>`. Then the
conversation is rendered with the template `###Human: {q}###Assistant: {a}###`, only the answers
are supervised, and each `<ImageHere>` position is overwritten with the image's projected tokens.
Three tasks, one per step.""", """\
import re

import torch
from sparkles_lite.data.schema import IMAGE_BLOCK, Message
from sparkles_lite.exercises import (check_insert_placeholders, check_render_conversation, check_splice,
                                     summary)

print(IMAGE_BLOCK)""", [
        Task("Insert placeholders (without the prefix bug)", """\
Write `insert_placeholders(text, image_ids)`: put `IMAGE_BLOCK` right after the **first** mention of
each id (`IMAGE#1` → `IMAGE#1<Img><ImageHere></Img>`).

* Match the **whole** id: in `"IMAGE#1417 and IMAGE#14"`, the mention of `14` is the second one; a
  plain `text.replace` or `text.find("IMAGE#14")` finds it inside `IMAGE#1417`. Ids are letters,
  digits, `_` and `-`; any other character ends them.
* An id that already has its placeholder (`IMAGE#2<Img><ImageHere></Img>`) is left alone.
* An id never mentioned is an error: raise `ValueError` (a missing placeholder would shift every
  later image onto the wrong slot).

Hint: a regular expression with a negative lookahead, `(?![A-Za-z0-9_\\-])`, and `re.escape(id)`.""",
             stub("insert_placeholders(text, image_ids)", "Add IMAGE_BLOCK after the first whole-id mention of each image."),
             '''\
def insert_placeholders(text, image_ids):
    """Add IMAGE_BLOCK after the first whole-id mention of each image."""
    for image_id in image_ids:
        if f"IMAGE#{image_id}{IMAGE_BLOCK}" in text:
            continue  # already there
        # the id, not followed by more id characters: IMAGE#14 does not match inside IMAGE#1417
        mention = re.search(r"IMAGE#" + re.escape(image_id) + r"(?![A-Za-z0-9_\\-])", text)
        if mention is None:
            raise ValueError(f"IMAGE#{image_id} is not mentioned in {text!r}")
        text = text[:mention.end()] + IMAGE_BLOCK + text[mention.end():]
    return text''', "check_insert_placeholders", "insert_placeholders"),
        Task("Render the template and the label mask", """\
Write `render_conversation(messages)` → `(text, spans)`. `messages` is a list of `Message(role,
content)`, roles `"user"` or `"assistant"` (anything else: raise `ValueError`).

* `text`: each user message adds `###Human: {content}`, each assistant message adds
  `###Assistant: {content}###`.
* `spans`: one `(start, end)` character span per assistant message, covering its content **and** the
  `###` that ends it, so the model learns to stop. `###Assistant: ` itself, the questions and
  the images are not supervised: their labels become -100.

`assembly.assemble` later gives each token the label of the span holding its last character.""",
             stub("render_conversation(messages)", "(template text, supervised (start, end) spans)"), '''\
def render_conversation(messages):
    """(template text, supervised (start, end) spans)"""
    text, spans = "", []
    for m in messages:
        if m.role == "user":
            text += "###Human: " + m.content
        elif m.role == "assistant":
            text += "###Assistant: "
            start = len(text)
            text += m.content + "###"
            spans.append((start, len(text)))
        else:
            raise ValueError(f"unknown role {m.role!r}")
    return text, spans''', "check_render_conversation", "render_conversation"),
        Task("Splice image tokens in by mask", """\
Write `splice(embeds, image_mask, image_tokens)`: `embeds` `[B, L, D]` are the word embeddings,
`image_mask` `[B, L]` is True at image positions, `image_tokens` `[N, K, D]` are N images of K
projected tokens. Return new embeddings with the image positions overwritten by the image tokens,
**in row-major order** (row 0 left to right, then row 1, ...), which is the order `collate` lays
images out.

* The number of True positions must equal `N·K`; otherwise raise `ValueError`.
* Do not modify `embeds` in place; gradients must flow back to `image_tokens` (the projection
  trains through this line).

Hint: boolean-mask assignment, `out[image_mask] = ...`, fills positions in row-major order.""",
             stub("splice(embeds, image_mask, image_tokens)", "Embeddings with image positions overwritten, in order."),
             '''\
def splice(embeds, image_mask, image_tokens):
    """Embeddings with image positions overwritten, in order."""
    n, k, d = image_tokens.shape
    slots = int(image_mask.sum())
    if slots != n * k:
        raise ValueError(f"{slots} image positions but {n} images x {k} tokens")
    out = embeds.clone()
    out[image_mask] = image_tokens.reshape(n * k, d).to(out.dtype)
    return out''', "check_splice", "splice"),
    ]),
    # ------------------------------------------------------------------ 04
    Lesson("04_sparkles_dialogue", "04 · SparklesDialogue data", """\
A SparklesDialogue conversation is a list of messages; user messages carry the images they
introduce. Before training, every dialogue is validated and split into one example per answer.""", """\
from sparkles_lite.data.schema import IMAGE_BLOCK, IMAGE_TOKEN, ImageRef, Message
from sparkles_lite.exercises import check_placeholder_errors, check_split_turns, summary""", [
        Task("Validate placeholder counts", """\
Write `placeholder_errors(messages)`: the indices (ascending) of the messages whose placeholders and
images disagree, `[]` when all is well. A message is wrong when

* its number of `<ImageHere>` (`IMAGE_TOKEN`) differs from `len(message.images)`, or
* it is an assistant message with any placeholder: the model writes text, never images. (Mentioning
  `IMAGE#1` in an answer's text is fine.)""",
             stub("placeholder_errors(messages)", "Indices of messages whose placeholders and images disagree."), '''\
def placeholder_errors(messages):
    """Indices of messages whose placeholders and images disagree."""
    bad = []
    for i, m in enumerate(messages):
        n = m.content.count(IMAGE_TOKEN)
        if n != len(m.images) or (m.role == "assistant" and n > 0):
            bad.append(i)
    return bad''', "check_placeholder_errors", "placeholder_errors"),
        Task("Split a dialogue into turns", """\
Sparkles trains on every answer of a dialogue, each with the conversation before it. Write
`split_turns(messages)` → a list of `(history, answer)` pairs: for each assistant message, `history`
is the list of all messages before it (ending with the user's question) and `answer` its text.

A dialogue must be non-empty, have an even number of messages, and alternate user, assistant,
user, ... starting with the user; otherwise raise `ValueError`.""",
             stub("split_turns(messages)", "[(history, answer), ...], one per assistant message."), '''\
def split_turns(messages):
    """[(history, answer), ...], one per assistant message."""
    if not messages or len(messages) % 2:
        raise ValueError(f"need a positive even number of messages, got {len(messages)}")
    for j, m in enumerate(messages):
        expected = "user" if j % 2 == 0 else "assistant"
        if m.role != expected:
            raise ValueError(f"message {j}: expected {expected}, got {m.role}")
    return [(messages[:k], messages[k].content) for k in range(1, len(messages), 2)]''',
             "check_split_turns", "split_turns"),
    ]),
    # ------------------------------------------------------------------ 05
    Lesson("05_finetune", "05 · Fine-tuning the projection", """\
Two ingredients of the training loop: the learning-rate schedule and the loss that looks only at
the assistant's tokens.""", """\
import math

import torch
from sparkles_lite.exercises import check_cosine_lr, check_masked_loss, summary""", [
        Task("The cosine learning-rate schedule", """\
Write `cosine_lr(progress, base, warmup=0.05)`, where `progress` runs from 0 (first step) to 1
(last step):

* **warm-up** (`progress < warmup`): rise linearly, reaching `base` at `progress = warmup`; use
  `base · (progress + 0.001) / warmup` so the very first step does not have a learning rate of 0;
* then a **half cosine** from `base` at `progress = warmup` down to `0.1 · base` at `progress = 1`;
* past 1 it stays at `0.1 · base`.""",
             stub("cosine_lr(progress, base, warmup=0.05)", "Learning rate at this point of training."), '''\
def cosine_lr(progress, base, warmup=0.05):
    """Learning rate at this point of training."""
    if progress < warmup:
        return base * (progress + 0.001) / warmup
    t = min(1.0, (progress - warmup) / (1 - warmup))       # 0 -> 1 over the decay
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))''', "check_cosine_lr", "cosine_lr"),
        Task("The masked next-token loss", """\
Write `masked_loss(logits, labels)`: `logits` `[B, L, V]`, `labels` `[B, L]` with `-100` where no loss
is wanted (questions, images, padding). Return the scalar tensor the LLM computes when given
`labels`:

* **shift by one**: the logits at position `t` predict the label at position `t + 1`;
* cross-entropy `-log softmax(logits)[label]` at every supervised position;
* the **mean over all supervised tokens of the batch** (not a mean of per-row means).

Use `torch.log_softmax` (not `log(softmax)`, which underflows) and pick the labels' entries; or use
`F.cross_entropy(..., ignore_index=-100)` once you have written it by hand.""",
             stub("masked_loss(logits, labels)", "Mean next-token cross-entropy over positions whose label is not -100."),
             '''\
def masked_loss(logits, labels):
    """Mean next-token cross-entropy over positions whose label is not -100."""
    logits, labels = logits[:, :-1], labels[:, 1:]          # position t predicts token t + 1
    log_probs = torch.log_softmax(logits.float(), dim=-1)   # [B, L-1, V]
    keep = labels != -100
    picked = log_probs[keep].gather(-1, labels[keep].unsqueeze(-1)).squeeze(-1)
    return -picked.mean()''', "check_masked_loss", "masked_loss"),
    ]),
    # ------------------------------------------------------------------ 06
    Lesson("06_chat", "06 · Chatting about several images", """\
In the chat, the user uploads images and refers to them as `IMAGE#1`, `IMAGE#2`, ... in what they
type. Before the model sees a message, each newly mentioned image needs its placeholder and its
pixels, in the right order; after the model answers, its text needs trimming.""", """\
import re

from sparkles_lite.data.schema import insert_placeholders
from sparkles_lite.exercises import check_cut_answer, check_resolve_images, summary""", [
        Task("Resolve IMAGE#n references", """\
Write `resolve_images(text, uploaded, introduced=())` → `(text_with_placeholders, images)`:

* `uploaded` maps ids (`"1"`, `"2"`, ...) to images; `introduced` holds the ids already shown to
  the model in earlier turns (they already have a placeholder in the history: never add a second).
* The new images are the ids mentioned in `text` (whole ids: `IMAGE#10` is not `IMAGE#1`) that are
  not in `introduced`, in the order of their first mention: that is the order their tokens will be
  spliced in. Give them placeholders (`insert_placeholders` from the package, the one you wrote
  in 03) and return their images in that order.
* A new id that was never uploaded is an error: raise `ValueError` naming it. Never guess.""",
             stub("resolve_images(text, uploaded, introduced=())", "(text with placeholders for new images, their images in order)"),
             '''\
def resolve_images(text, uploaded, introduced=()):
    """(text with placeholders for new images, their images in order)"""
    new = []
    for image_id in re.findall(r"IMAGE#([A-Za-z0-9_\\-]+)", text):  # whole ids, in order
        if image_id not in new and image_id not in introduced:
            new.append(image_id)
    for image_id in new:
        if image_id not in uploaded:
            raise ValueError(f"IMAGE#{image_id} was not uploaded (uploaded: {sorted(uploaded)})")
    return insert_placeholders(text, new), [uploaded[i] for i in new]''', "check_resolve_images", "resolve_images"),
        Task("Cut the answer", """\
Without a stop rule the model answers, then writes the next `###Human: ...` turn itself. Write
`cut_answer(raw)`: the text before the first `###`, without surrounding whitespace.""",
             stub("cut_answer(raw)", "The answer: text before the first ###, stripped."), '''\
def cut_answer(raw):
    """The answer: text before the first ###, stripped."""
    return raw.split("###", 1)[0].strip()''', "check_cut_answer", "cut_answer"),
    ]),
    # ------------------------------------------------------------------ 07
    Lesson("07_sparkles_eval", "07 · SparklesEval", """\
SparklesEval asks a judge (GPT-4 in the paper) to rate two answers (A1, A2) on three criteria
(C1 image understanding, C2 cross-image/cross-turn coherence, C3 relevance), one line each:
`A1 C2 Rating: [[7]] explanation`. Reading those replies strictly, and reporting a mean with its
uncertainty, is what makes the scores trustworthy.""", """\
import math
import re

from sparkles_lite.exercises import check_mean_ci, check_parse_ratings, summary, t95

print("t95(2) =", t95(2), " t95(30) =", t95(30), " t95(100) =", t95(100))""", [
        Task("Parse the judge's reply", """\
Write `parse_ratings(reply)` → a dict of the six scores, `{"A1 C1": 7, ..., "A2 C3": 5}`, or `None`
when the reply cannot be trusted. Read it line by line; a rating line (use `RATING_LINE` below: it
allows markdown such as `**A1 C1 Rating:**`) holds the rest of the line after `Rating`. Then:

* the score must be written `[[n]]` with an integer `n` from 1 to 10, anything else (`7`, `[[7.5]]`,
  `[[11]]`) makes the whole reply `None`;
* the same key twice with the same score is fine; with different scores, `None`;
* all six keys must be present; other lines are ignored.

A lenient parser that guesses turns judge mistakes into scores; the package's `judge.parse_ratings`
names each problem instead, and the run retries the judge.""", '''\
RATING_LINE = re.compile(r"^\\W*A\\s*([12])\\s*C\\s*([123])\\b\\W*rating[\\s:*]*(.*)$", re.IGNORECASE)
KEYS = [f"A{a} C{c}" for a in (1, 2) for c in (1, 2, 3)]


def parse_ratings(reply):
    """{'A1 C1': 7, ...} with all six scores, or None."""
    raise NotImplementedError  # your code here''', '''\
RATING_LINE = re.compile(r"^\\W*A\\s*([12])\\s*C\\s*([123])\\b\\W*rating[\\s:*]*(.*)$", re.IGNORECASE)
KEYS = [f"A{a} C{c}" for a in (1, 2) for c in (1, 2, 3)]


def parse_ratings(reply):
    """{'A1 C1': 7, ...} with all six scores, or None."""
    scores = {}
    for line in reply.splitlines():
        m = RATING_LINE.match(line.strip())
        if not m:
            continue
        key = f"A{m.group(1)} C{m.group(2)}"
        score = re.match(r"\\s*\\[\\[\\s*(\\d+)\\s*\\]\\]", m.group(3))
        if score is None:
            return None                         # not [[n]] with an integer n
        value = int(score.group(1))
        if not 1 <= value <= 10 or scores.get(key, value) != value:
            return None                         # out of range, or rated twice differently
        scores[key] = value
    return scores if set(scores) == set(KEYS) else None''', "check_parse_ratings", "parse_ratings"),
        Task("A mean with its 95% confidence interval", """\
Write `mean_ci(values)` → `(mean, low, high)`: the Student-t interval `mean ± t95(n-1) · s / √n`,
with `s` the sample standard deviation (divide by `n - 1`). `t95(df)` (imported above) gives the
critical value (and z = 1.96 beyond 30 degrees of freedom).

* one value: `(m, m, m)` (no spread can be estimated);
* no values: raise `ValueError`.""",
             stub("mean_ci(values)", "(mean, low, high) with a Student-t 95% interval."), '''\
def mean_ci(values):
    """(mean, low, high) with a Student-t 95% interval."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    m = sum(values) / n
    if n == 1:
        return m, m, m
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    half = t95(n - 1) * s / math.sqrt(n)
    return m, m - half, m + half''', "check_mean_ci", "mean_ci"),
    ]),
    # ------------------------------------------------------------------ 08
    Lesson("08_bison_nlvr2", "08 · BISON and NLVR2", """\
Both benchmarks ask a closed question about two images (BISON: which image matches the caption?
NLVR2: is the statement true of the pair?), but models answer in free text. Reading the choice out of
that text, and reporting accuracy with an interval, decide what the numbers mean.

The rules for both extractors:

1. Find every **mention** of an option (task by task, below). Ignore the options listed as a
   question (`IMAGE#1 or IMAGE#2`, `true or false`): that is the prompt restated, not an answer.
2. A mention with `not` earlier in its clause (`not IMAGE#2`, `not true`), or followed by
   `does not ...`/`doesn't`/`is not`, **implies the other option**.
3. A mention is a **final answer** when the reply starts with it (followed by punctuation or the
   end), or it follows `the answer is`, `answer:`, `therefore`, `thus` or `so`. If there is any
   final answer, the **last** one decides.
4. Otherwise every mention must imply the same option; if they disagree, or there is none, return
   `None`: an unparsable reply counts as wrong, it is never guessed.

Markdown (`*`, `_`, backticks, quotes) is noise: remove it first, and compare in lower case.""", """\
import math
import re

from sparkles_lite.exercises import check_extract_bison, check_extract_nlvr2, check_wilson_ci, summary""", [
        Task("Extract the BISON choice", """\
Write `extract_bison(response)` → `"IMAGE#1"`, `"IMAGE#2"` or `None`. Mentions: `IMAGE#1`, `image 1`,
`image one`, `picture 2`, `the first image`, `the second image`, ... (`IMAGE#12` is not a mention).
The helpers below (`FINAL`, `NOT_BEFORE`, `NOT_AFTER`, `extract`) are shared with the NLVR2 task:
complete `extract` once, and both tasks use it.""", '''\
FINAL = re.compile(r"\\b(?:answer\\s+is|answer:|therefore|thus|so)\\b,?\\s*(?:the\\s+)?$")  # just before a mention
NOT_BEFORE = re.compile(r"\\bnot\\b[^.,;!?]*$")                                      # 'not' earlier in the clause
NOT_AFTER = re.compile(r"^\\s*(?:does\\s+not|doesn't|is\\s+not|isn't)\\b")            # '... does not match'


def extract(response, mentions, option_list, choices):
    """The shared rules. mentions: [(compiled pattern, function match -> choice)]."""
    raise NotImplementedError  # your code here


def extract_bison(response):
    """'IMAGE#1', 'IMAGE#2' or None."""
    raise NotImplementedError  # your code here''', '''\
FINAL = re.compile(r"\\b(?:answer\\s+is|answer:|therefore|thus|so)\\b,?\\s*(?:the\\s+)?$")  # just before a mention
NOT_BEFORE = re.compile(r"\\bnot\\b[^.,;!?]*$")                                      # 'not' earlier in the clause
NOT_AFTER = re.compile(r"^\\s*(?:does\\s+not|doesn't|is\\s+not|isn't)\\b")            # '... does not match'


def extract(response, mentions, option_list, choices):
    """The shared rules. mentions: [(compiled pattern, function match -> choice)]."""
    text = re.sub(r"[*_`\\"“”]", " ", response).lower()
    text = option_list.sub(" ", text)                      # 'image 1 or image 2' is the question
    other = {choices[0]: choices[1], choices[1]: choices[0]}
    found = sorted((m.start(), m.end(), to_choice(m)) for pattern, to_choice in mentions
                   for m in pattern.finditer(text))
    finals, implied = [], []
    for start, end, choice in found:
        before, after = text[:start], text[end:]
        if NOT_BEFORE.search(before) or NOT_AFTER.search(after):
            choice = other[choice]
        starts_reply = not before.strip() and re.match(r"\\s*(?:[.,!;:)]|$)", after)
        if starts_reply or FINAL.search(before):
            finals.append(choice)
        implied.append(choice)
    if finals:
        return finals[-1]
    return implied[0] if len(set(implied)) == 1 else None


BISON_MENTIONS = [
    (re.compile(r"\\b(?:image|img|picture|photo)\\s*#?\\s*(1|2|one|two)\\b"),
     lambda m: "IMAGE#1" if m.group(1) in ("1", "one") else "IMAGE#2"),
    (re.compile(r"\\b(first|second)\\s+(?:image|picture|photo|one)\\b"),
     lambda m: "IMAGE#1" if m.group(1) == "first" else "IMAGE#2"),
]
BISON_LIST = re.compile(r"\\b(?:image|img)\\s*#?\\s*[12]\\s*(?:or|/)\\s*(?:image|img)?\\s*#?\\s*[12]\\b")


def extract_bison(response):
    """'IMAGE#1', 'IMAGE#2' or None."""
    return extract(response, BISON_MENTIONS, BISON_LIST, ("IMAGE#1", "IMAGE#2"))''',
             "check_extract_bison", "extract_bison"),
        Task("Extract the NLVR2 verdict", """\
Write `extract_nlvr2(response)` → `"TRUE"`, `"FALSE"` or `None` with the same `extract`. Mentions:
`true`, `correct`, `accurate` (TRUE); `false`, `incorrect`, `inaccurate`, `untrue`, `wrong` (FALSE);
and a reply that **starts** with `yes` or `no` followed by punctuation or the end (`No.` is FALSE;
`no idea` is not an answer).""",
             stub("extract_nlvr2(response)", "'TRUE', 'FALSE' or None."), '''\
NLVR2_MENTIONS = [
    (re.compile(r"\\b(true|correct|accurate|false|incorrect|inaccurate|untrue|wrong)\\b"),
     lambda m: "TRUE" if m.group(1) in ("true", "correct", "accurate") else "FALSE"),
    (re.compile(r"^\\s*(yes|no)\\b(?=\\s*(?:[,.!;:]|$))"), lambda m: "TRUE" if m.group(1) == "yes" else "FALSE"),
]
NLVR2_LIST = re.compile(r"\\b(?:true|false)\\s*(?:or|/)\\s*(?:true|false)\\b")


def extract_nlvr2(response):
    """'TRUE', 'FALSE' or None."""
    return extract(response, NLVR2_MENTIONS, NLVR2_LIST, ("TRUE", "FALSE"))''', "check_extract_nlvr2", "extract_nlvr2"),
        Task("The Wilson score interval", """\
An accuracy of 57 % on 100 items is 47-66 % at 95 %: always report the interval. The textbook
`p ± 1.96·√(p(1-p)/n)` collapses to `[0, 0]` at 0 % and to `[1, 1]` at 100 %, and near those edges it
reaches below 0 or above 1; the Wilson interval does neither.
Write `wilson_ci(successes, n, z=1.959963984540054)` → `(low, high)`:

    centre = (p + z²/(2n)) / (1 + z²/n)
    half   = z · √(p(1-p)/n + z²/(4n²)) / (1 + z²/n)

clipped to `[0, 1]`. Raise `ValueError` when `n <= 0` or `successes` is outside `0..n`.""",
             stub("wilson_ci(successes, n, z=1.959963984540054)", "(low, high) Wilson score interval."), '''\
def wilson_ci(successes, n, z=1.959963984540054):
    """(low, high) Wilson score interval."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in 0..{n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)''', "check_wilson_ci", "wilson_ci"),
    ]),
    # ------------------------------------------------------------------ 09
    Lesson("09_attention_across_images", "09 · Attention across images", """\
When the model answers about IMAGE#2, does it look at IMAGE#2? Each generated token has, in every
layer and head, an attention row over all earlier positions; `Assembled.image_index` says which
image each prompt position belongs to (`-1` for text).""", """\
import torch
from sparkles_lite.exercises import check_attention_per_image, check_image_attention_by_layer, summary""", [
        Task("Attention mass per image", """\
Write `attention_per_image(attention_row, image_index)`: `attention_row` is a 1-D tensor over
positions, `image_index` a list (one entry per prompt position: image number, or -1 for text).
Return a 1-D tensor with one entry per image (`max(image_index) + 1` of them; empty when there are no
images): the sum of the row over that image's positions.

The row may be **longer** than `image_index`: positions after the prompt are tokens the model has
generated so far, which are text.""",
             stub("attention_per_image(attention_row, image_index)", "Tensor [n_images]: attention summed per image."), '''\
def attention_per_image(attention_row, image_index):
    """Tensor [n_images]: attention summed per image."""
    n_images = max(image_index, default=-1) + 1
    mass = torch.zeros(n_images, dtype=attention_row.dtype)
    for position, image in enumerate(image_index):   # generated positions lie past the map: text
        if image >= 0:
            mass[image] += attention_row[position]
    return mass''', "check_attention_per_image", "attention_per_image"),
        Task("Per layer, averaged over heads", """\
Write `image_attention_by_layer(attentions, image_index)`: `attentions` is `[layers, heads, T]` (the
last query row of every layer and head). Return `[layers, n_images]`: each head's mass per image,
averaged over heads. (A loop over `attention_per_image` works; a one-hot matrix `[len(image_index),
n_images]` and one matmul does it all at once.)""",
             stub("image_attention_by_layer(attentions, image_index)", "Tensor [layers, n_images], mean over heads."), '''\
def image_attention_by_layer(attentions, image_index):
    """Tensor [layers, n_images], mean over heads."""
    n_images = max(image_index, default=-1) + 1
    one_hot = torch.zeros(len(image_index), n_images, dtype=attentions.dtype)
    for position, image in enumerate(image_index):
        if image >= 0:
            one_hot[position, image] = 1.0
    mass = attentions[..., :len(image_index)] @ one_hot     # [layers, heads, n_images]
    return mass.mean(dim=1)''', "check_image_attention_by_layer", "image_attention_by_layer"),
    ]),
]


HOW_TO = """\
**How to work:** each task has an explanation, a code cell to complete (replace
`raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
(expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
solutions: `exercises/solutions/{stem}.ipynb`. The lesson itself: `notebooks/{stem}.ipynb`."""


def build(lesson: Lesson, solved: bool):
    title = f"# Exercises {lesson.title}" + (" — solutions" if solved else "")
    cells = [
        new_markdown_cell(title + "\n\n" + lesson.intro + "\n\n" + HOW_TO.format(stem=lesson.stem)),
        colab_cell(),  # Colab set-up, right after the title (tools/nb_colab.py)
        new_code_cell("# Parameters (papermill's convention; the exercises are light, SMOKE changes nothing).\n"
                      "SMOKE = False\nSEED = 0", metadata={"tags": ["parameters"]}),
        new_code_cell(lesson.setup),
    ]
    for i, task in enumerate(lesson.tasks, 1):
        cells.append(new_markdown_cell(f"## Task {i} · {task.title}\n\n{task.explain}"))
        code = task.solution if solved else task.stub
        cells.append(new_code_cell(code, metadata={"tags": ["solution"]} if solved else {}))
        cells.append(new_code_cell(f"{task.check}({task.function})"))
    cells.append(new_markdown_cell("## Summary"))
    cells.append(new_code_cell("summary()"))
    nb = new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC),
                                             "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nb


def paths() -> list[tuple[Path, Path]]:
    return [(EXERCISES / f"{l.stem}.ipynb", SOLUTIONS / f"{l.stem}.ipynb") for l in LESSONS]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--execute", action="store_true", help="run the solution notebooks in place afterwards")
    args = ap.parse_args(argv)
    SOLUTIONS.mkdir(parents=True, exist_ok=True)
    for lesson in LESSONS:
        for solved, folder in ((False, EXERCISES), (True, SOLUTIONS)):
            nbformat.write(build(lesson, solved), folder / f"{lesson.stem}.ipynb")
    print(f"wrote {len(LESSONS)} exercise notebooks and their solutions")
    if args.execute:
        sys.path.insert(0, str(ROOT / "tools"))
        import run_notebooks as rn

        kernel = rn.pick_kernel()
        for _, solution in paths():
            took = rn.run_in_place(solution, {}, kernel)
            print(f"ok     {solution.name:40s} {took:6.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
