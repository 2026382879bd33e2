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
# # Exercises 09 · Attention across images — solutions
#
# When the model answers about IMAGE#2, does it look at IMAGE#2? Each generated token has, in every
# layer and head, an attention row over all earlier positions; `Assembled.image_index` says which
# image each prompt position belongs to (`-1` for text).
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/09_attention_across_images.ipynb`. The lesson itself: `notebooks/09_attention_across_images.ipynb`.

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
from sparkles_lite.exercises import check_attention_per_image, check_image_attention_by_layer, summary


# %% [markdown]
# ## Task 1 · Attention mass per image
#
# Write `attention_per_image(attention_row, image_index)`: `attention_row` is a 1-D tensor over
# positions, `image_index` a list (one entry per prompt position: image number, or -1 for text).
# Return a 1-D tensor with one entry per image (`max(image_index) + 1` of them; empty when there are no
# images): the sum of the row over that image's positions.
#
# The row may be **longer** than `image_index`: positions after the prompt are tokens the model has
# generated so far, which are text.

# %% tags=["solution"]
def attention_per_image(attention_row, image_index):
    """Tensor [n_images]: attention summed per image."""
    ### BEGIN SOLUTION
    n_images = max(image_index, default=-1) + 1
    mass = torch.zeros(n_images, dtype=attention_row.dtype)
    for position, image in enumerate(image_index):   # generated positions lie past the map: text
        if image >= 0:
            mass[image] += attention_row[position]
    return mass
    ### END SOLUTION


# %%
check_attention_per_image(attention_per_image)


# %% [markdown]
# ## Task 2 · Per layer, averaged over heads
#
# Write `image_attention_by_layer(attentions, image_index)`: `attentions` is `[layers, heads, T]` (the
# last query row of every layer and head). Return `[layers, n_images]`: each head's mass per image,
# averaged over heads. (A loop over `attention_per_image` works; a one-hot matrix `[len(image_index),
# n_images]` and one matmul does it all at once.)

# %% tags=["solution"]
def image_attention_by_layer(attentions, image_index):
    """Tensor [layers, n_images], mean over heads."""
    ### BEGIN SOLUTION
    n_images = max(image_index, default=-1) + 1
    one_hot = torch.zeros(len(image_index), n_images, dtype=attentions.dtype)
    for position, image in enumerate(image_index):
        if image >= 0:
            one_hot[position, image] = 1.0
    mass = attentions[..., :len(image_index)] @ one_hot     # [layers, heads, n_images]
    return mass.mean(dim=1)
    ### END SOLUTION


# %%
check_image_attention_by_layer(image_attention_by_layer)

# %% [markdown]
# ## Summary

# %%
summary()
