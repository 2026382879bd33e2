# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Interleaved tokens: text and images in one sequence
#
# SparklesChat's key trick is where images go: **inside the sentence, at the word that names them**.
# A user message reads *"What do IMAGE#1`<Img><ImageHere></Img>` and IMAGE#2`<Img><ImageHere></Img>`
# have in common?"*, and each `<ImageHere>` is replaced, in embedding space, by that image's projected
# tokens. Later turns can say *IMAGE#2* again and the model knows which image is meant, because the
# image sits right after its name earlier in the context.
#
# **What you'll learn**
#
# 1. the chat template (`###Human: {q}###Assistant: {a}###`) and which tokens the loss supervises;
# 2. how one `<ImageHere>` becomes K = 9 positions, drawn as a map of every position in a 2-turn,
#    3-image conversation;
# 3. the splice: which rows of `inputs_embeds` come from the word-embedding table and which from images;
# 4. what goes wrong, loudly: placeholder/image mismatches, conversations that are too long, and the
#    `IMAGE#14` vs `IMAGE#1417` pitfall;
# 5. batching conversations with different numbers of images (right vs left padding).
#
# Everything here is bookkeeping on a 10M-parameter model: it runs in seconds.

# %% tags=["colab-setup"]
# Set-up: installs sparkles-lite if this kernel lacks it (Colab, a new Jupyter), else nothing.
import glob, importlib, importlib.util, subprocess, sys
REPO_URL = ""  # unpublished: CONTRIBUTING.md, "Publishing", fills this in
if importlib.util.find_spec("sparkles_lite") is None:
    wheels = sorted(glob.glob("sparkles_lite-*.whl") + glob.glob("../sparkles_lite-*.whl"))
    source = wheels[-1] if wheels else f"sparkles-lite @ git+{REPO_URL}" if REPO_URL else None
    if source is None:
        print("sparkles-lite is not installed. Put sparkles_lite-*.whl beside this\n"
              "notebook (Colab: the Files panel) and run this cell again, or\n"
              "pip install <the sparkles-lite folder>")
    elif subprocess.run([sys.executable, "-m", "pip", "install", "-q", source]).returncode:
        print(f"pip could not install {source} (see above). Offline?\n"
              "WORKSHOP.md, 'Without Wi-Fi', says what to bring")
    else:
        importlib.invalidate_caches()

# %% tags=["parameters"]
# Parameters: papermill overrides these (the tests pass SMOKE=True for a fast run).
SMOKE = False       # nothing heavy here: SMOKE changes nothing, the notebook is already fast
SEED = 0            # the conversations below come from this seed
COLS = 24           # positions per row in the position maps
SMALL_MAX_LENGTH = 80  # a deliberately short context for section 4

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Patch, Rectangle
from transformers.utils import logging as hf_logging

from sparkles_lite.data.schema import IMAGE_BLOCK, ImageRef, Message, insert_placeholders
from sparkles_lite.lite import world
from sparkles_lite.lite.tasks import LiteGenerator
from sparkles_lite.model import assembly
from sparkles_lite.model.assembly import IGNORE, AssemblyError, collate
from sparkles_lite.model.sparkles_chat import SparklesChat

hf_logging.disable_progress_bar()  # no "Loading weights" bars in the outputs
torch.manual_seed(SEED)

model = SparklesChat.from_pretrained("sparkleschat-lite").eval()
tok = model.tokenizer
K = model.tokens_per_image

gen = LiteGenerator(SEED)
example = gen.dialogue()
while len(example.image_ids) != 3 or "nothing" in example.messages[-1].content:
    example = gen.dialogue()  # the first 2-turn dialogue with exactly 3 images and a non-empty last answer
messages = example.messages
images = [world.render(example.scenes[i]) for i in example.image_ids]  # in placeholder order

fig, axes = plt.subplots(1, 3, figsize=(8, 2.9))
for ax, image_id, img in zip(axes, example.image_ids, images):
    ax.imshow(img)
    ax.set_title(f"IMAGE#{image_id}\n{world.describe(example.scenes[image_id])}".replace(" and ", "\nand "),
                 fontsize=8)
    ax.axis("off")
fig.tight_layout();

# %% [markdown]
# ## 1 · The conversation and its template
#
# A conversation is a list of `Message(role, content, images)`. User messages carry the images they
# introduce, in the order of their placeholders. The template (Vicuna v0, as in MiniGPT-4 and the paper)
# joins them into one string: `<s>###Human: {question}###Assistant: {answer}###Human: ...`. Only the
# **answers** (and the `###` that ends each answer) are supervised: the model learns to answer, not to
# ask. Between two turns stands one `###`: the one that ends an answer (supervised with it, so the model
# learns where to stop) also opens the next `Human:` turn, exactly as in the official code.

# %%
# NBVAL_CHECK_OUTPUT
for i, m in enumerate(messages):
    print(f"[{i}] {m.role:9s} {m.content}")
    for ref in m.images:
        print(f"{'':14s}image IMAGE#{ref.image_id}: {ref.caption}")
text, supervised, spans = assembly.render_conversation(messages, add_generation_prompt=False, bos=tok.bos_token)
print("\nrendered template:")
print(text)
print("\nsupervised spans:", [text[a:b] for a, b in supervised])

# %% [markdown]
# ### Where the loss differs from the paper's
#
# * **One sequence, every answer.** The paper trains on *per-turn* samples (the files
#   `SparklesDialogue{CC,VG}_turn{1,2}_{N}img.json`): turn 1 as `###Human: q1###Assistant: a1###`, turn 2
#   as `###Human: q1###Assistant: a1###Human: q2###Assistant: a2###`, and in each the loss covers only the
#   **last** answer and its `###` (a1 in turn 2 is context). This project trains a dialogue file as one
#   sequence with **every** answer supervised, as above: the same answers are learnt from the same
#   context, but the turn-1 text and images go through the LM once, where the paper's turn-2 sample runs
#   them a second time. What changes is the weighting: the paper draws turn-1 files twice as
#   often as turn-2 files, and averages each sample's loss over one answer; here the tokens of both
#   answers share one average. Per-turn files still train as the paper's samples (`supervise="last"`,
#   below), and `train --split-turns` / `--turn-ratio 2:1` give the paper's scheme for dialogue files.
# * **No system sentence.** The official chat and evaluation prompt starts with "Give the following
#   image: <Img>ImageContent</Img>. You will be able to see the image once I provide it to you. Please
#   answer my questions." before the first `###Human:`, a sentence its training text never contains.
#   This project leaves it out, so the model is asked in exactly the text it was trained on.

# %%
# NBVAL_CHECK_OUTPUT
per_turn = model.assemble(messages, supervise="last")
whole = model.assemble(messages)
for name, a in (("whole dialogue (this project)", whole), ("per-turn sample (the paper)", per_turn)):
    print(f"{name:30s} supervised: {tok.decode([l for l in a.labels if l != IGNORE])!r}")

# %% [markdown]
# ## 2 · `<ImageHere>` → K positions
#
# The tokenizer turns `<ImageHere>` into one special token. `model.assemble(messages)` then expands each
# into **K = 9 copies**: one position per image token, so the sequence already has the final length and a
# simple mask says where image tokens go. Alongside the ids it returns, per position, the label (the
# token to predict, or -100 = not supervised), which image the position belongs to (`image_index`, -1 for
# text) and which message (`message_index`, -1 for `<s>`).
#
# One more text position per image: after its 9 positions the lite model puts a `' '` token before `</Img>`
# (`model.after_image`). The lite LM was pretrained on text in which each image is written as its 9 words,
# `<Img> big red triangle ... nothing </Img>`, and there the space before `</Img>` is a token of its own. The
# image tokens should sit exactly where the words sat, with the same neighbours: leave the space out and
# every position after an image is one off from the text the LM learned from (RESULTS.md, "One missing
# token", measures what that costs). A Hugging Face LLM never saw such a text view, so for it nothing is
# added.

# %%
# NBVAL_CHECK_OUTPUT
plain = tok(text, add_special_tokens=False)["input_ids"]
asm = model.assemble(messages)
print(f"tokens before expansion: {len(plain)} (with {asm.n_images} <ImageHere> tokens)")
after = len(tok(model.after_image, add_special_tokens=False)["input_ids"]) if model.after_image else 0
print(f"positions after:         {len(asm)} = {len(plain)} + {asm.n_images} x ({K} - 1 + {after})")
first = tok.convert_ids_to_tokens(asm.input_ids[:26])
print("\nfirst 26 positions:", " ".join(first))
print("image_index:        ", asm.image_index[:26])
per_image = [asm.image_index.count(k) for k in range(asm.n_images)]
print(f"\npositions per image: {per_image};  text positions: {asm.image_index.count(-1)}")
per_message = [asm.message_index.count(i) for i in range(len(messages))]
print(f"positions per message: {per_message} (+1 for <s>)")
answer_ids = [t for t in asm.labels if t != IGNORE]
print(f"supervised positions: {len(answer_ids)}: {tok.decode(answer_ids)!r}")

# %% [markdown]
# The same as a picture: one cell per position, read left to right, top to bottom. Image positions are
# coloured by image, supervised positions (the answers) are green, the rest (template and questions, which
# the model reads but is not trained to produce) grey. A thick red bar marks where a new message starts.
# A `·` stands for the space a token starts with (the tokenizer writes it `Ġ`); `img2·5` is image 2's
# sixth token.

# %%
IMAGE_COLOURS = ["#e08a00", "#8e6cc2", "#2aa198", "#d33682", "#1f77b4", "#8c564b", "#bcbd22", "#e377c2", "#17becf", "#000080"]


def short(token):
    token = token.replace("Ġ", "·")
    return token if len(token) <= 8 else token[:7] + "…"


def position_map(asm, cols=COLS, title=""):
    """One cell per position: image k in its colour, supervised text green, other text grey."""
    tokens = tok.convert_ids_to_tokens(asm.input_ids)
    rows = (len(asm) + cols - 1) // cols
    fig, ax = plt.subplots(figsize=(14, 0.62 * rows + 1.2))
    within = {}
    for p, (token, label, img, msg) in enumerate(zip(tokens, asm.labels, asm.image_index, asm.message_index)):
        r, c = divmod(p, cols)
        if img >= 0:
            colour, text = IMAGE_COLOURS[img % len(IMAGE_COLOURS)], f"img{img + 1}·{within.get(img, 0)}"
            within[img] = within.get(img, 0) + 1
        else:
            colour, text = ("#9be29b" if label != IGNORE else "#e6e6e6"), short(token)
        ax.add_patch(Rectangle((c, -r), 1, -0.9, fc=colour, ec="white", lw=1))
        ax.text(c + 0.5, -r - 0.45, text, ha="center", va="center", fontsize=6.3,
                fontweight="bold" if label != IGNORE else "normal")
        if p > 0 and msg != asm.message_index[p - 1]:
            ax.plot([c, c], [-r + 0.05, -r - 0.95], color="#d62728", lw=3);
    ax.set_xlim(-0.2, cols + 0.2)
    ax.set_ylim(-rows - 0.1, 0.1)
    ax.axis("off")
    legend = [Patch(fc="#e6e6e6", label="text, not supervised (label -100)"),
              Patch(fc="#9be29b", label="text, supervised (the answers)")]
    legend += [Patch(fc=IMAGE_COLOURS[k % len(IMAGE_COLOURS)], label=f"image {k + 1}: {K} positions")
               for k in range(asm.n_images)]
    legend.append(Patch(fc="#d62728", label="a new message starts"))
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(legend), fontsize=8,
              frameon=False)
    ax.set_title(title or f"{len(asm)} positions: {asm.n_images} images x {K} + {asm.image_index.count(-1)} text",
                 fontsize=10)
    fig.tight_layout()
    return fig


position_map(asm);

# %% [markdown]
# ## 3 · The splice: building `inputs_embeds`
#
# The LLM never sees the ids of the image positions. `model.embed(batch, image_tokens)`:
#
# 1. looks up word embeddings for every position (image positions temporarily use the pad id);
# 2. overwrites the rows where `image_mask` is True with the projected image tokens, **in order**: image
#    1's 9 tokens fill the first 9 image positions, image 2's the next 9, and so on.
#
# Because the positions were expanded in the order the placeholders appear, "in order" is all the
# bookkeeping needed. "Image 1" means the first placeholder in the text, whatever its id: the images
# must be passed in placeholder order (`example.image_ids` gives it). We check both halves of the claim
# row by row.

# %%
# NBVAL_CHECK_OUTPUT
batch = collate([asm], model.pad_id)
with torch.no_grad():
    image_tokens = model.encode_images(images)                  # [3 images, 9, 384]
    embeds = model.embed(batch, image_tokens)[0]                # [positions, 384]
    word_rows = model.lm.get_input_embeddings()(batch.input_ids[0])
index = torch.tensor(asm.image_index)
print(f"image tokens {tuple(image_tokens.shape)} -> inputs_embeds {tuple(embeds.shape)}")
print(f"image_mask marks {int(batch.image_mask.sum())} positions = {image_tokens.shape[0]} images x {K}")
for k in range(asm.n_images):
    rows = (index == k).nonzero().flatten()
    same = torch.equal(embeds[rows], image_tokens[k])
    print(f"image {k + 1} (IMAGE#{example.image_ids[k]}): rows {rows[0].item()}-{rows[-1].item()} "
          f"== its 9 projected tokens: {same}")
print(f"text rows == word embeddings of their ids: {torch.equal(embeds[index < 0], word_rows[index < 0])}")

# %%
n_pos = len(asm)
source = np.array([k + 1 for k in asm.image_index])            # 0 = text, k = image k
fig, axes = plt.subplots(3, 1, figsize=(13, 5.6), sharex=True,
                         gridspec_kw={"height_ratios": [0.35, 2.2, 1.2]})
colours = ["#bbbbbb"] + IMAGE_COLOURS[:asm.n_images]
for p, s in enumerate(source):
    axes[0].add_patch(Rectangle((p - 0.5, 0), 1, 1, fc=colours[s], ec="none"))
axes[0].set_ylim(0, 1)
axes[0].set_yticks([])
axes[0].set_title("where each row of inputs_embeds comes from: grey = word-embedding table, "
                  "colours = image 1, 2, 3 (projected tokens)", fontsize=9)
unit = (embeds / embeds.norm(dim=-1, keepdim=True))[:, :48].T.numpy()   # direction only, first 48 dims
axes[1].imshow(unit, aspect="auto", cmap="RdBu_r", vmin=-0.3, vmax=0.3, interpolation="nearest",
               extent=(-0.5, n_pos - 0.5, 47.5, -0.5))
axes[1].set_ylabel("dimension\n(first 48 of 384)")
axes[1].set_title("inputs_embeds, one column per position (each scaled to length 1)", fontsize=9)
norms = embeds.norm(dim=-1).numpy()
axes[2].bar(np.arange(n_pos), norms, color=[colours[s] for s in source], width=1.0)
axes[2].set_yscale("log")
axes[2].set_ylabel("row norm\n(log scale)")
axes[2].set_xlabel("position in the sequence")
axes[2].set_xlim(-0.5, n_pos - 0.5)
fig.tight_layout();

# %% [markdown]
# The norm plot repeats notebook 02's finding in place: the spliced image rows are tens of times longer
# than the word rows around them (mind the log scale).
#
# ## 4 · When things go wrong, they go wrong loudly
#
# Interleaving is bookkeeping, and bookkeeping errors are silent killers: an image spliced into the wrong
# slot trains the model on wrong facts without any crash. So the package refuses to guess.
#
# **Placeholders and images must agree**, message by message:

# %%
# NBVAL_CHECK_OUTPUT
wrong = [Message("user", f"Compare IMAGE#1{IMAGE_BLOCK} and IMAGE#2{IMAGE_BLOCK}.", [ImageRef("1")]),
         Message("assistant", "IMAGE#1 has more objects.")]
try:
    model.assemble(wrong)
except AssemblyError as err:
    print(f"AssemblyError: {err}")

answer_with_image = [Message("user", f"Describe IMAGE#1{IMAGE_BLOCK}.", [ImageRef("1")]),
                     Message("assistant", f"It looks like IMAGE#2{IMAGE_BLOCK}.", [ImageRef("2")])]
try:
    model.assemble(answer_with_image)
except AssemblyError as err:
    print(f"AssemblyError: {err}")

# The splice checks too: 3 images' worth of positions, only 2 images' tokens.
try:
    model.embed(batch, image_tokens[:2])
except ValueError as err:
    print(f"ValueError: {err}")

# %% [markdown]
# **Too long for the context?** Cutting the sequence at `max_length` could slice an image in half or cut
# an answer mid-word. Instead, whole turns (a question and its answer) are dropped **from the left**, with
# a warning, and the images introduced in those turns go with them. Here with a deliberately small
# `max_length`, calling `sparkles_lite.model.assembly.assemble` directly:

# %%
# NBVAL_CHECK_OUTPUT
print(f"full conversation: {len(asm)} positions, {asm.n_images} images; max_length = {SMALL_MAX_LENGTH}")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    short_asm = assembly.assemble(messages, tok, K, max_length=SMALL_MAX_LENGTH, after_image=model.after_image)
for w in caught:
    print(f"{w.category.__name__}: {w.message}")
print(f"kept: {len(short_asm)} positions, {short_asm.n_images} image(s); dropped messages {short_asm.dropped_messages}")
kept_text = tok.decode([t for t, k in zip(short_asm.input_ids, short_asm.image_index) if k < 0])
print(f"what the model now reads (image positions left out): {kept_text!r}")
kept_messages = messages[len(short_asm.dropped_messages):]
shown = {ref.image_id for m in kept_messages for ref in m.images}
named = [i for i in example.image_ids if any(f"IMAGE#{i}" in m.content for m in kept_messages)]
print(f"images the kept text names: {['IMAGE#' + i for i in named]}; "
      f"named but no longer shown: {['IMAGE#' + i for i in named if i not in shown]}")

try:
    assembly.assemble(messages, tok, K, max_length=20, after_image=model.after_image)
except AssemblyError as err:
    print(f"\nwith max_length=20 -> AssemblyError: {err}")

# %% [markdown]
# Notice the cost of dropping: when the kept question names an image from a dropped turn (the last line
# above), that image's pixels are gone with its turn. The model has to answer about an image it cannot
# see, which is
# why dropping is the last resort, and why 32 tokens per image (not 257) matters. The paper does it
# differently: its training cuts every sample's text at 1,024 tokens (the tokenizer's truncation, which
# can end inside an image's positions), and its chat keeps the last 2,000 positions of the conversation.
#
# **`IMAGE#14` is a prefix of `IMAGE#1417`.** Inserting placeholders with plain string replacement puts an
# image block *inside* another image's name. `sparkles_lite.data.schema.insert_placeholders` matches whole
# ids only, puts each placeholder after the *first* mention, and refuses an image the text never names:

# %%
# NBVAL_CHECK_OUTPUT
question = "Is the circle in IMAGE#1417 bigger than the one in IMAGE#14? Look at IMAGE#14 again."
naive = question
for image_id in ["14", "1417"]:
    naive = naive.replace(f"IMAGE#{image_id}", f"IMAGE#{image_id}{IMAGE_BLOCK}", 1)
print("naive str.replace:   ", naive)
print("insert_placeholders: ", insert_placeholders(question, ["14", "1417"]))
try:
    insert_placeholders(question, ["14", "1417", "7"])
except ValueError as err:
    print(f"ValueError: {err}")

# %% [markdown]
# The naive version wrote `IMAGE#14<Img><ImageHere></Img>17`: image 14's tokens land in the middle of
# image 1417's name, and image 1417 gets none. No error, just a model trained on nonsense.
#
# ## 5 · Batching conversations with different numbers of images
#
# Training uses batches of conversations of different lengths, with different numbers of images.
# `collate` pads every example to the longest one and stacks them:
#
# - **right padding** (pad at the end) for training: positions line up from the start;
# - **left padding** (pad at the start) for batched generation: every example's last prompt token sits in
#   the last column, so the model continues all of them from the same place.
#
# The images of the whole batch are spliced in **row-major order**: example 1's images, then example 2's,
# exactly the order in which `image_mask` is True when read row by row. So one masked assignment fills
# the whole batch.

# %%
# NBVAL_CHECK_OUTPUT
batch_gen = LiteGenerator(SEED + 1)
examples = [batch_gen.caption(), example, batch_gen.single("select")]
assembled = [model.assemble(ex.messages) for ex in examples]
for ex, a in zip(examples, assembled):
    print(f"{ex.task:22s} {a.n_images} image(s), {len(a):3d} positions")
right = collate(assembled, model.pad_id, padding_side="right")
print(f"\nright padding: input_ids {tuple(right.input_ids.shape)}; images per example {right.images_per_example}")
print(f"image positions per row: {right.image_mask.sum(1).tolist()} (= images x {K})")
batch_images = [world.render(ex.scenes[i]) for ex in examples for i in ex.image_ids]  # row-major order
with torch.no_grad():
    tokens = model.encode_images(batch_images)
    out = model(right, tokens)                                   # embed (splice) + LM + loss on answers
print(f"{len(batch_images)} images spliced in one assignment; training loss finite: {bool(torch.isfinite(out.loss))}")

# For generation, each prompt ends where the answer should start: drop the last answer and add '###Assistant:'.
prompts = [model.assemble(ex.messages[:-1], add_generation_prompt=True) for ex in examples]
left = collate(prompts, model.pad_id, padding_side="left")
print(f"\nleft padding (prompts): input_ids {tuple(left.input_ids.shape)}; "
      f"last column = last prompt token of every row: {tok.convert_ids_to_tokens(left.input_ids[:, -1].tolist())}")

# %% [markdown]
# With left padding, one forward pass gives every row's next token in the last column, and generation can
# continue all rows together (this is what `model.generate_batch` does). The lite model's first answer
# words:

# %%
with torch.no_grad():
    logits = model.lm(inputs_embeds=model.embed(left, tokens), attention_mask=left.attention_mask).logits
for ex, next_id in zip(examples, logits[:, -1].argmax(-1).tolist()):
    print(f"{ex.task:22s} next token: {tok.decode([next_id])!r:12s} (the reference answer: {ex.messages[-1].content!r})")


# %%
def batch_picture(b, ax, title):
    """Each cell one position: padding white, text grey, supervised green, each image its colour."""
    rows, length = b.input_ids.shape
    grid = np.ones((rows, length, 3))
    image_counter = 0
    for r in range(rows):
        for p in range(length):
            if not b.attention_mask[r, p]:
                continue
            if b.image_mask[r, p]:
                k = image_counter // K
                grid[r, p] = plt.matplotlib.colors.to_rgb(IMAGE_COLOURS[k % len(IMAGE_COLOURS)])
                image_counter += 1
            else:
                grid[r, p] = plt.matplotlib.colors.to_rgb("#9be29b" if b.labels[r, p] != IGNORE else "#bbbbbb")
    ax.imshow(grid, aspect="auto", interpolation="nearest")
    for r in range(rows):
        ax.axhline(r + 0.5, color="black", lw=0.8)
    ax.set_yticks(range(rows), [f"{ex.task.split(':')[0]} ({n} img)" for ex, n in zip(examples, b.images_per_example)])
    ax.set_title(title, fontsize=10)


fig, axes = plt.subplots(2, 1, figsize=(13, 4.6))
batch_picture(right, axes[0], "right padding (training): white = padding, attention_mask 0")
batch_picture(left, axes[1], "left padding (batched generation: prompts, last answer left out)")
axes[1].set_xlabel("position")
legend = [Patch(fc="white", ec="grey", label="padding"), Patch(fc="#bbbbbb", label="text"),
          Patch(fc="#9be29b", label="supervised text")]
legend += [Patch(fc=IMAGE_COLOURS[k], label=f"batch image {k + 1}") for k in range(len(batch_images))]
fig.legend(handles=legend, loc="lower center", ncol=6, fontsize=8, frameon=False)
fig.tight_layout(rect=(0, 0.1, 1, 1));

# %% [markdown]
# The colours run 1, 2, 3, ... across the rows in reading order: that is the order in which
# `model.encode_images(batch_images)` must receive the images, and the order `embed` consumes them.
#
# ## What's next
#
# You can now build the exact input the LLM reads for any multi-image conversation. **[04 ·
# SparklesDialogue](04_sparkles_dialogue.ipynb)** turns to the data: how multi-image, multi-turn dialogues
# are generated, what the SparklesDialogue format looks like on disk, and how each dialogue becomes
# training examples like the ones above.
#
# *Try it:* set `SMALL_MAX_LENGTH` so that nothing is dropped; assemble with `add_generation_prompt=True`
# and see how the map ends; put a 4th image into the second question.

# %% [markdown]
# ## Questions to think about
#
# 1. Why does the loss supervise the `###` that ends each answer?
# 2. The images must be passed in the order of their placeholders. What happens, with no error, if
#    you pass them in id order instead?
# 3. A conversation is too long. Why drop whole turns from the left rather than cut the sequence at
#    `max_length`?
# 4. Why right padding for training but left padding for batched generation?
# 5. `IMAGE#14` inside `IMAGE#1417` is one naive-replacement bug. Name another input that a plain
#    `str.replace` of `IMAGE#<id>` gets wrong.
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
