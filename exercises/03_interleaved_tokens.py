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
# # Exercises 03 · Interleaved tokens
#
# Images enter a message at the word that names them: `IMAGE#1<Img><ImageHere></Img>`. Then the
# conversation is rendered with the template `###Human: {q}###Assistant: {a}###`, only the answers
# are supervised, and each `<ImageHere>` position is overwritten with the image's projected tokens.
# Three tasks, one per step.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/03_interleaved_tokens.ipynb`. The lesson itself: `notebooks/03_interleaved_tokens.ipynb`.

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
# Parameters (papermill's convention; the exercises are light, SMOKE changes nothing).
SMOKE = False
SEED = 0

# %%
import re

import torch
from sparkles_lite.data.schema import IMAGE_BLOCK, Message
from sparkles_lite.exercises import (check_insert_placeholders, check_render_conversation, check_splice,
                                     summary)

print(IMAGE_BLOCK)


# %% [markdown]
# ## Task 1 · Insert placeholders (without the prefix bug)
#
# Write `insert_placeholders(text, image_ids)`: put `IMAGE_BLOCK` right after the **first** mention of
# each id (`IMAGE#1` → `IMAGE#1<Img><ImageHere></Img>`).
#
# * Match the **whole** id: in `"IMAGE#1417 and IMAGE#14"`, the mention of `14` is the second one; a
#   plain `text.replace` or `text.find("IMAGE#14")` finds it inside `IMAGE#1417`. Ids are letters,
#   digits, `_` and `-`; any other character ends them.
# * An id that already has its placeholder (`IMAGE#2<Img><ImageHere></Img>`) is left alone.
# * An id never mentioned is an error: raise `ValueError` (a missing placeholder would shift every
#   later image onto the wrong slot).
#
# Hint: a regular expression with a negative lookahead, `(?![A-Za-z0-9_\-])`, and `re.escape(id)`.

# %%
def insert_placeholders(text, image_ids):
    """Add IMAGE_BLOCK after the first whole-id mention of each image."""
    raise NotImplementedError  # your code here


# %%
check_insert_placeholders(insert_placeholders)


# %% [markdown]
# ## Task 2 · Render the template and the label mask
#
# Write `render_conversation(messages)` → `(text, spans)`. `messages` is a list of `Message(role,
# content)`, roles `"user"` or `"assistant"` (anything else: raise `ValueError`).
#
# * `text`: each assistant message adds `###Assistant: {content}###`; each user message adds
#   `###Human: {content}`, except after an answer, whose closing `###` already stands before it: then it
#   adds `Human: {content}`. One `###` between turns, as the paper writes it:
#   `###Human: q1###Assistant: a1###Human: q2###Assistant: a2###`.
# * `spans`: one `(start, end)` character span per assistant message, covering its content **and** the
#   `###` that ends it, so the model learns to stop. `###Assistant: ` itself, the questions and
#   the images are not supervised: their labels become -100.
#
# `assembly.assemble` later gives each token the label of the span holding its last character.

# %%
def render_conversation(messages):
    """(template text, supervised (start, end) spans)"""
    raise NotImplementedError  # your code here


# %%
check_render_conversation(render_conversation)


# %% [markdown]
# ## Task 3 · Splice image tokens in by mask
#
# Write `splice(embeds, image_mask, image_tokens)`: `embeds` `[B, L, D]` are the word embeddings,
# `image_mask` `[B, L]` is True at image positions, `image_tokens` `[N, K, D]` are N images of K
# projected tokens. Return new embeddings with the image positions overwritten by the image tokens,
# **in row-major order** (row 0 left to right, then row 1, ...), which is the order `collate` lays
# images out.
#
# * The number of True positions must equal `N·K`; otherwise raise `ValueError`.
# * Do not modify `embeds` in place; gradients must flow back to `image_tokens` (the projection
#   trains through this line).
#
# Hint: boolean-mask assignment, `out[image_mask] = ...`, fills positions in row-major order.

# %%
def splice(embeds, image_mask, image_tokens):
    """Embeddings with image positions overwritten, in order."""
    raise NotImplementedError  # your code here


# %%
check_splice(splice)

# %% [markdown]
# ## Summary

# %%
summary()
