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
# # Exercises 02 · The projection
#
# The only layer SparklesChat trains maps vision features into the LLM's word-embedding space. How
# big is it, and what do its outputs look like to the LLM?
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/02_projection.ipynb`. The lesson itself: `notebooks/02_projection.ipynb`.

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
from sparkles_lite.exercises import check_nearest_words, check_projection_params, summary


# %% [markdown]
# ## Task 1 · Count the trainable parameters
#
# Write `projection_params(vision_dim, lm_dim, hidden=None)`: the number of parameters of
# `sparkles_lite.model.projection.build_projection`:
#
# * `hidden=None`: the paper's single `nn.Linear(vision_dim, lm_dim)` (weight **and** bias);
# * `hidden=h`: a LLaVA-1.5-style MLP, `Linear(vision_dim, h) → GELU → Linear(h, lm_dim)`.
#
# For the paper (Q-Former width 768 → Vicuna-7B width 4096) this is everything that trains: compare
# it with the 7 billion frozen parameters of the LLM.

# %%
def projection_params(vision_dim, lm_dim, hidden=None):
    """Parameters of the projection."""
    raise NotImplementedError  # your code here


# %%
check_projection_params(projection_params)


# %% [markdown]
# ## Task 2 · Nearest words
#
# A projected image token is a vector in the word-embedding space: which words is it closest to?
# Write `nearest_words(vector, embeddings, vocab, k=3)`: `vector` is `[D]`, `embeddings` `[V, D]`
# (one row per word of `vocab`); return the `k` words with the highest **cosine similarity**
# (`a·b / (|a| |b|)`), most similar first. Not the dot product: a long embedding would win
# by length alone.

# %%
def nearest_words(vector, embeddings, vocab, k=3):
    """The k words most cosine-similar to vector."""
    raise NotImplementedError  # your code here


# %%
check_nearest_words(nearest_words)

# %% [markdown]
# ## Summary

# %%
summary()
