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
# # 00 · A tour of SparklesChat, lite
#
# **SparklesChat** ([Huang et al., 2023, arXiv:2308.16463](https://arxiv.org/abs/2308.16463)) is a
# multimodal chat model that talks about **several images in one conversation**. A user can write
# *"How does the dog in IMAGE#1 differ from the one in IMAGE#2?"* and the model answers with both images
# in mind, turn after turn.
#
# This repository rebuilds it twice: a **lite** tier (tiny models, a synthetic world of coloured shapes,
# every notebook runs on a laptop CPU in minutes; this is what you are reading) and a **full** tier
# (real Hugging Face models on one GPU; notebook 10). This notebook is the map: the architecture, the
# paper's results, the lite world, and the road ahead.

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
SMOKE = False  # True: fewer scenes, same lessons
SEED = 0       # every scene below comes from this seed

# %%
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from sparkles_lite.data.schema import insert_placeholders
from sparkles_lite.lite import world

N_SCENES = 6 if SMOKE else 12
bank = world.SceneBank(SEED)
scenes = [bank.next() for _ in range(N_SCENES)]

# %% [markdown]
# ## 1 · The architecture in words
#
# SparklesChat keeps MiniGPT-4's recipe and changes the data it is trained on:
#
# 1. A **frozen vision encoder** (EVA-CLIP ViT-g with a BLIP-2 Q-Former in the paper) turns each image
#    into a fixed number of feature vectors (32 in the paper).
# 2. A **trainable Linear projection** maps those vectors into the language model's word-embedding space.
#    It is the *only* part that learns.
# 3. A **frozen LLM** (Vicuna-7B in the paper) reads one sequence in which text and images are
#    **interleaved at the word level**: each image sits where the text names it,
#    `IMAGE#id<Img><ImageHere></Img>`, and the `<ImageHere>` slot is replaced by that image's
#    projected vectors.
#
# Because images live inside the sentence, the model can refer back to `IMAGE#1` three turns later.

# %%
# The same idea as a picture: two lite scenes flow through the three parts.
thumbs = [world.render(s, size=96) for s in scenes[:2]]
fig, ax = plt.subplots(figsize=(11, 4.2))
ax.set_xlim(0, 12.6)
ax.set_ylim(0, 6)
ax.axis("off")


def box(x, y, w, h, text, colour):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.08", fc=colour, ec="black", lw=1.2))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=10)


def arrow(x0, y0, x1, y1, colour="black"):
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, color=colour, lw=1.4))


for i, (img, y) in enumerate(zip(thumbs, (3.5, 0.9))):
    ax.imshow(img, extent=(0.1, 1.5, y, y + 1.4))
    ax.text(0.8, y + 1.5, f"IMAGE#{i + 1}", ha="center", fontsize=9)
    arrow(1.6, y + 0.7, 2.1, y + 0.7)
box(2.2, 0.8, 1.8, 4.4, "vision\nencoder\n(ViT)\n\nfrozen", "#cfe0ff")
arrow(4.1, 3.0, 4.6, 3.0)
box(4.7, 0.8, 1.6, 4.4, "Linear\nprojection\n\ntrainable", "#ffd59e")
arrow(6.4, 3.0, 6.9, 4.7, "#e08a00")

# One interleaved sequence: grey = text tokens, orange = projected image tokens.
tokens = ["IMAGE#1", None, None, None, "and", "IMAGE#2", None, None, None, "differ?"]
x = 7.0
for tok in tokens:
    w = 0.25 if tok is None else 0.11 * len(tok) + 0.15
    ax.add_patch(FancyBboxPatch((x, 4.45), w, 0.5, boxstyle="round,pad=0.02",
                                fc="#ffd59e" if tok is None else "#e6e6e6", ec="grey"))
    if tok:
        ax.text(x + w / 2, 4.7, tok, ha="center", va="center", fontsize=7)
    x += w + 0.05
arrow(9.6, 4.35, 9.6, 3.75)
box(7.8, 2.4, 3.6, 1.2, "language model (LLM)\nfrozen", "#cfe0ff")
arrow(9.6, 2.3, 9.6, 1.7)
ax.text(9.6, 1.3, "“IMAGE#1 has ...; IMAGE#2 has ...”", ha="center", va="center", fontsize=9, style="italic")
ax.set_title("SparklesChat: frozen vision encoder → trainable Linear → frozen LLM, images interleaved in text")
plt.show();

# %% [markdown]
# In text, an image enters a message exactly like this (the placeholder is added after the first mention
# of each image id; `sparkles_lite.data.schema` does it):

# %%
# NBVAL_CHECK_OUTPUT
print(insert_placeholders("What is in IMAGE#1 that is missing from IMAGE#2?", ["1", "2"]))

# %% [markdown]
# ## 2 · What the paper reports
#
# SparklesChat is trained on **SparklesDialogue** (GPT-4-written dialogues over several images) and
# scored on **SparklesEval** (GPT-4 judges answers, 1-10) and on two classic two-image tasks:
# **BISON** (which of two images matches a caption?) and **NLVR2** (is a statement true of an image
# pair?). Against MiniGPT-4, the same architecture trained without multi-image dialogue:
#
# | benchmark | SparklesChat | MiniGPT-4 | reference |
# |---|---|---|---|
# | SparklesEval (score /10) | **8.56** | 3.91 | GPT-4: 9.26 |
# | BISON (accuracy) | **56.7 %** | 46.0 % | |
# | NLVR2 (accuracy) | **58.0 %** | 51.3 % | |
#
# The lite tier reproduces each of these evaluations (notebooks 07 and 08) on its own world, so the
# *shape* of the comparison, not the numbers, is what carries over.

# %%
PAPER = {
    "SparklesEval (/10)": {"SparklesChat": 8.56, "MiniGPT-4": 3.91, "GPT-4": 9.26},
    "BISON (%)": {"SparklesChat": 56.7, "MiniGPT-4": 46.0},
    "NLVR2 (%)": {"SparklesChat": 58.0, "MiniGPT-4": 51.3},
}
colours = {"SparklesChat": "#e08a00", "MiniGPT-4": "#7a8ca8", "GPT-4": "#bbbbbb"}
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for ax, (bench, scores) in zip(axes, PAPER.items()):
    bars = ax.bar(list(scores), list(scores.values()), color=[colours[m] for m in scores])
    ax.bar_label(bars, fmt="%.2f" if "/10" in bench else "%.1f")
    ax.set_title(bench)
    ax.set_ylim(0, 10.5 if "/10" in bench else 70)
    if "%" in bench:
        ax.axhline(50, ls="--", c="grey", lw=1)  # chance: two choices
        ax.set_title(bench + "  (dashed: chance)")
fig.suptitle("Headline results of arXiv:2308.16463")
fig.tight_layout();

# %% [markdown]
# ## 3 · The lite world
#
# Real photos need real models. The lite tier swaps them for a world in which **every fact is known**:
# each scene holds 1-3 objects (left, centre, right), each a *size × colour × shape*. Scenes are drawn
# with Pillow by `world.render`, and `world.describe` gives their canonical caption. Because the captions
# are exact, an offline judge can score any answer without GPT-4.

# %%
cols = 6
rows = (len(scenes) + cols - 1) // cols
fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 3.1 * rows), squeeze=False)
for ax in axes.flat:
    ax.axis("off")
for i, (ax, scene) in enumerate(zip(axes.flat, scenes)):
    ax.imshow(world.render(scene, size=128))
    ax.set_title(f"IMAGE#{i + 1}", fontsize=9)
    caption = world.describe(scene).replace(", ", ",\n").replace(" and ", "\nand ")
    ax.text(0.5, -0.04, caption, transform=ax.transAxes, ha="center", va="top", fontsize=7.5)
fig.subplots_adjust(left=0.01, right=0.99, top=0.95, bottom=0.08, wspace=0.08, hspace=0.55);

# %% [markdown]
# ### Scenes as slot words
#
# The lite language model first learns to read scenes written as words: three words (size, colour,
# shape) per position, `nothing` for an empty one. That gives every image a fixed budget of
# **9 tokens**, the lite counterpart of the paper's 32 Q-Former tokens. Later, the projection learns to
# produce one image token per slot word, straight from pixels.

# %%
print(f"{world.SLOT_TOKENS_PER_IMAGE} slot words per image, positions {world.POSITIONS}\n")
for i, scene in enumerate(scenes[:4]):
    words = world.slot_words(scene)
    slots = ["  ".join(words[j:j + 3]) for j in range(0, len(words), 3)]
    print(f"IMAGE#{i + 1}: " + "  |  ".join(f"{s:24s}" for s in slots))

# %% [markdown]
# ### Descriptions read back
#
# `world.parse_description` reads a description back into a multiset of objects. Judges and metrics
# rely on `parse_description(describe(scene)) == scene.counts()` for every scene; this cell checks it on
# 500 scenes and prints a few (its output is compared by the notebook tests).

# %%
# NBVAL_CHECK_OUTPUT
check_bank = world.SceneBank(1234)
check = [check_bank.next() for _ in range(500)]
ok = sum(world.parse_description(world.describe(s)) == s.counts() for s in check)
print(f"round trip exact on {ok}/{len(check)} scenes")
for s in check[:3]:
    parsed = world.parse_description(world.describe(s))
    print(f"{world.describe(s)!r}")
    print("  ->", ", ".join(f"{n} x {t.size} {t.colour} {t.shape}" for t, n in parsed.items()))
assert ok == len(check)

# %% [markdown]
# ## 4 · The road ahead
#
# | notebook | what it teaches |
# |---|---|
# | **00 tour** | this map: architecture, results, the lite world |
# | **01 visual encoder** | a tiny ViT pretrained on lite scenes; what its patch features hold |
# | **02 projection** | the trainable Linear layer that turns image features into LLM "words" |
# | **03 interleaved tokens** | `IMAGE#id<Img><ImageHere></Img>`: building one embedding sequence from text and images |
# | **04 SparklesDialogue** | generating multi-image, multi-turn dialogue data, and its format |
# | **05 fine-tune** | stage 1 (captions) and stage 2 (dialogues): training only the projection |
# | **06 chat** | talking to the model about several images |
# | **07 SparklesEval** | judge-scored evaluation (an offline judge stands in for GPT-4) |
# | **08 BISON & NLVR2** | the two-image benchmarks, and why multi-image training helps |
# | **09 attention across images** | where the LLM looks when it answers about IMAGE#2 |
# | **10 real models** | the same code with SigLIP/CLIP + SmolLM2/Qwen2.5 on a GPU |
#
# Start with `make demo` to see the whole lite pipeline run end to end, then open notebook 01.

# %% [markdown]
# ## Questions to think about
#
# 1. SparklesChat and MiniGPT-4 have the same architecture and the same frozen parts, yet their
#    SparklesEval scores are 8.56 and 3.91. Where must the difference come from?
# 2. Why put an image's tokens right after the words that name it (`IMAGE#2<Img>...</Img>`) rather
#    than all images at the start of the prompt?
# 3. What does the lite world's exact caption (`describe` / `parse_description`) make possible that
#    real photographs do not?
# 4. The lite models score far above the paper's on BISON (56.7 % for SparklesChat). What may you
#    compare between the two, and what not?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
