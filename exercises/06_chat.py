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
# # Exercises 06 · Chatting about several images
#
# In the chat, the user uploads images and refers to them as `IMAGE#1`, `IMAGE#2`, ... in what they
# type. Before the model sees a message, each newly mentioned image needs its placeholder and its
# pixels, in the right order; after the model answers, its text needs trimming.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/06_chat.ipynb`. The lesson itself: `notebooks/06_chat.ipynb`.

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

from sparkles_lite.data.schema import insert_placeholders
from sparkles_lite.exercises import check_cut_answer, check_resolve_images, summary


# %% [markdown]
# ## Task 1 · Resolve IMAGE#n references
#
# Write `resolve_images(text, uploaded, introduced=())` → `(text_with_placeholders, images)`:
#
# * `uploaded` maps ids (`"1"`, `"2"`, ...) to images; `introduced` holds the ids already shown to
#   the model in earlier turns (they already have a placeholder in the history: never add a second).
# * The new images are the ids mentioned in `text` (whole ids: `IMAGE#10` is not `IMAGE#1`) that are
#   not in `introduced`, in the order of their first mention: that is the order their tokens will be
#   spliced in. Give them placeholders (`insert_placeholders` from the package, the one you wrote
#   in 03) and return their images in that order.
# * A new id that was never uploaded is an error: raise `ValueError` naming it. Never guess.

# %%
def resolve_images(text, uploaded, introduced=()):
    """(text with placeholders for new images, their images in order)"""
    raise NotImplementedError  # your code here


# %%
check_resolve_images(resolve_images)


# %% [markdown]
# ## Task 2 · Cut the answer
#
# Without a stop rule the model answers, then writes the next `###Human: ...` turn itself. Write
# `cut_answer(raw)`: the text before the first `###`, without surrounding whitespace.

# %%
def cut_answer(raw):
    """The answer: text before the first ###, stripped."""
    raise NotImplementedError  # your code here


# %%
check_cut_answer(cut_answer)

# %% [markdown]
# ## Summary

# %%
summary()
