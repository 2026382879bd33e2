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
# # Exercises 01 · Inside the visual encoder
#
# A ViT cuts an image into patches, embeds each patch with one linear map, and lets the patches attend
# to each other. You will write the two pieces that carry the idea: cutting into patches, and the
# attention weights of one head.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/01_visual_encoder.ipynb`. The lesson itself: `notebooks/01_visual_encoder.ipynb`.

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
import torch
from sparkles_lite.exercises import check_attention_weights, check_patchify, summary


# %% [markdown]
# ## Task 1 · Patchify
#
# Write `patchify(images, patch)`: `images` is `[B, C, H, W]`; return `[B, P, C·p·p]` with
# `P = (H/p)·(W/p)` patches.
#
# * Patches go **row by row** (top-left patch first, then to its right).
# * Inside a patch, the numbers go **channel first, then row, then column**: exactly the order of a
#   `Conv2d(C, D, kernel_size=p, stride=p)` weight, so `patchify(x) @ conv.weight.view(D, -1).T + conv.bias`
#   equals the `LiteViT.patch_embed` output. A patch embedding *is* a Linear layer on patches.
# * When `H` or `W` is not divisible by `p`, raise `ValueError`.
#
# Hint: `reshape` to `[B, C, H/p, p, W/p, p]`, then `permute`; or use `Tensor.unfold` twice.

# %%
def patchify(images, patch):
    """[B, C, H, W] -> [B, (H/p)*(W/p), C*p*p]"""
    raise NotImplementedError  # your code here


# %%
check_patchify(patchify)


# %% [markdown]
# ## Task 2 · Attention weights of one head
#
# Write `attention_weights(q, k)` for one head: `q` is `[N, d]` (queries), `k` is `[M, d]` (keys);
# return the `[N, M]` matrix `softmax(q kᵀ / √d)`, each row summing to 1. This is the map
# `vision.Block` keeps when you ask for `keep_attention`, and what notebook 09 reads in the LLM.
#
# Write the softmax yourself: `exp` of each score divided by its row's sum. Large scores overflow
# `exp`: subtracting each row's maximum first changes nothing mathematically and keeps it finite.

# %%
def attention_weights(q, k):
    """softmax(q k^T / sqrt(d)) row by row: [N, M]"""
    raise NotImplementedError  # your code here


# %%
check_attention_weights(attention_weights)

# %% [markdown]
# ## Summary

# %%
summary()
