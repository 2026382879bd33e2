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
# # Exercises 05 · Fine-tuning the projection
#
# Two ingredients of the training loop: the learning-rate schedule and the loss that looks only at
# the assistant's tokens.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/05_finetune.ipynb`. The lesson itself: `notebooks/05_finetune.ipynb`.

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
import math

import torch
from sparkles_lite.exercises import check_cosine_lr, check_masked_loss, summary


# %% [markdown]
# ## Task 1 · The cosine learning-rate schedule
#
# Write `cosine_lr(progress, base, warmup=0.05)`, where `progress` runs from 0 (first step) to 1
# (last step):
#
# * **warm-up** (`progress < warmup`): rise linearly, reaching `base` at `progress = warmup`; use
#   `base · (progress + 0.001) / warmup` so the very first step does not have a learning rate of 0;
# * then a **half cosine** from `base` at `progress = warmup` down to `0.1 · base` at `progress = 1`;
# * past 1 it stays at `0.1 · base`.

# %%
def cosine_lr(progress, base, warmup=0.05):
    """Learning rate at this point of training."""
    raise NotImplementedError  # your code here


# %%
check_cosine_lr(cosine_lr)


# %% [markdown]
# ## Task 2 · The masked next-token loss
#
# Write `masked_loss(logits, labels)`: `logits` `[B, L, V]`, `labels` `[B, L]` with `-100` where no loss
# is wanted (questions, images, padding). Return the scalar tensor the LLM computes when given
# `labels`:
#
# * **shift by one**: the logits at position `t` predict the label at position `t + 1`;
# * cross-entropy `-log softmax(logits)[label]` at every supervised position;
# * the **mean over all supervised tokens of the batch** (not a mean of per-row means).
#
# Use `torch.log_softmax` (not `log(softmax)`, which underflows) and pick the labels' entries; or use
# `F.cross_entropy(..., ignore_index=-100)` once you have written it by hand.

# %%
def masked_loss(logits, labels):
    """Mean next-token cross-entropy over positions whose label is not -100."""
    raise NotImplementedError  # your code here


# %%
check_masked_loss(masked_loss)

# %% [markdown]
# ## Summary

# %%
summary()
