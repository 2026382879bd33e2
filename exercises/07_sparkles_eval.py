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
# # Exercises 07 · SparklesEval
#
# SparklesEval asks a judge (GPT-4 in the paper) to rate two answers (A1, A2) on three criteria
# (C1 image understanding, C2 cross-image/cross-turn coherence, C3 relevance), one line each:
# `A1 C2 Rating: [[7]] explanation`. Reading those replies strictly, and reporting a mean with its
# uncertainty, is what makes the scores trustworthy.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/07_sparkles_eval.ipynb`. The lesson itself: `notebooks/07_sparkles_eval.ipynb`.

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
import re

from sparkles_lite.exercises import check_mean_ci, check_parse_ratings, summary, t95

print("t95(2) =", t95(2), " t95(30) =", t95(30), " t95(100) =", t95(100))

# %% [markdown]
# ## Task 1 · Parse the judge's reply
#
# Write `parse_ratings(reply)` → a dict of the six scores, `{"A1 C1": 7, ..., "A2 C3": 5}`, or `None`
# when the reply cannot be trusted. Read it line by line; a rating line (use `RATING_LINE` below: it
# allows markdown such as `**A1 C1 Rating:**`) holds the rest of the line after `Rating`. Then:
#
# * the score must be written `[[n]]` with an integer `n` from 1 to 10, anything else (`7`, `[[7.5]]`,
#   `[[11]]`) makes the whole reply `None`;
# * the same key twice with the same score is fine; with different scores, `None`;
# * all six keys must be present; other lines are ignored.
#
# A lenient parser that guesses turns judge mistakes into scores; the package's `judge.parse_ratings`
# names each problem instead, and the run retries the judge.

# %%
RATING_LINE = re.compile(r"^\W*A\s*([12])\s*C\s*([123])\b\W*rating[\s:*]*(.*)$", re.IGNORECASE)
KEYS = [f"A{a} C{c}" for a in (1, 2) for c in (1, 2, 3)]


def parse_ratings(reply):
    """{'A1 C1': 7, ...} with all six scores, or None."""
    raise NotImplementedError  # your code here


# %%
check_parse_ratings(parse_ratings)


# %% [markdown]
# ## Task 2 · A mean with its 95% confidence interval
#
# Write `mean_ci(values)` → `(mean, low, high)`: the Student-t interval `mean ± t95(n-1) · s / √n`,
# with `s` the sample standard deviation (divide by `n - 1`). `t95(df)` (imported above) gives the
# critical value (and z = 1.96 beyond 30 degrees of freedom).
#
# * one value: `(m, m, m)` (no spread can be estimated);
# * no values: raise `ValueError`.

# %%
def mean_ci(values):
    """(mean, low, high) with a Student-t 95% interval."""
    raise NotImplementedError  # your code here


# %%
check_mean_ci(mean_ci)

# %% [markdown]
# ## Summary

# %%
summary()
