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
# # Exercises 08 · BISON and NLVR2
#
# Both benchmarks ask a closed question about two images (BISON: which image matches the caption?
# NLVR2: is the statement true of the pair?), but models answer in free text. Reading the choice out of
# that text, and reporting accuracy with an interval, decide what the numbers mean.
#
# The rules for both extractors:
#
# 1. Find every **mention** of an option (task by task, below). Ignore the options listed as a
#    question (`IMAGE#1 or IMAGE#2`, `true or false`): that is the prompt restated, not an answer.
# 2. A mention with `not` earlier in its clause (`not IMAGE#2`, `not true`), or followed by
#    `does not ...`/`doesn't`/`is not`, **implies the other option**.
# 3. A mention is a **final answer** when the reply starts with it (followed by punctuation or the
#    end), or it follows `the answer is`, `answer:`, `therefore`, `thus` or `so`. If there is any
#    final answer, the **last** one decides.
# 4. Otherwise every mention must imply the same option; if they disagree, or there is none, return
#    `None`: an unparsable reply counts as wrong, it is never guessed.
#
# Markdown (`*`, `_`, backticks, quotes) is noise: remove it first, and compare in lower case.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/08_bison_nlvr2.ipynb`. The lesson itself: `notebooks/08_bison_nlvr2.ipynb`.

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

from sparkles_lite.exercises import check_extract_bison, check_extract_nlvr2, check_wilson_ci, summary

# %% [markdown]
# ## Task 1 · Extract the BISON choice
#
# Write `extract_bison(response)` → `"IMAGE#1"`, `"IMAGE#2"` or `None`. Mentions: `IMAGE#1`, `image 1`,
# `image one`, `picture 2`, `the first image`, `the second image`, ... (`IMAGE#12` is not a mention).
# The helpers below (`FINAL`, `NOT_BEFORE`, `NOT_AFTER`, `extract`) are shared with the NLVR2 task:
# complete `extract` once, and both tasks use it.

# %%
FINAL = re.compile(r"\b(?:answer\s+is|answer:|therefore|thus|so)\b,?\s*(?:the\s+)?$")  # just before a mention
NOT_BEFORE = re.compile(r"\bnot\b[^.,;!?]*$")                                      # 'not' earlier in the clause
NOT_AFTER = re.compile(r"^\s*(?:does\s+not|doesn't|is\s+not|isn't)\b")            # '... does not match'


def extract(response, mentions, option_list, choices):
    """The shared rules. mentions: [(compiled pattern, function match -> choice)]."""
    raise NotImplementedError  # your code here


def extract_bison(response):
    """'IMAGE#1', 'IMAGE#2' or None."""
    raise NotImplementedError  # your code here


# %%
check_extract_bison(extract_bison)


# %% [markdown]
# ## Task 2 · Extract the NLVR2 verdict
#
# Write `extract_nlvr2(response)` → `"TRUE"`, `"FALSE"` or `None` with the same `extract`. Mentions:
# `true`, `correct`, `accurate` (TRUE); `false`, `incorrect`, `inaccurate`, `untrue`, `wrong` (FALSE);
# and a reply that **starts** with `yes` or `no` followed by punctuation or the end (`No.` is FALSE;
# `no idea` is not an answer).

# %%
def extract_nlvr2(response):
    """'TRUE', 'FALSE' or None."""
    raise NotImplementedError  # your code here


# %%
check_extract_nlvr2(extract_nlvr2)


# %% [markdown]
# ## Task 3 · The Wilson score interval
#
# An accuracy of 57 % on 100 items is 47-66 % at 95 %: always report the interval. The textbook
# `p ± 1.96·√(p(1-p)/n)` collapses to `[0, 0]` at 0 % and to `[1, 1]` at 100 %, and near those edges it
# reaches below 0 or above 1; the Wilson interval does neither.
# Write `wilson_ci(successes, n, z=1.959963984540054)` → `(low, high)`:
#
#     centre = (p + z²/(2n)) / (1 + z²/n)
#     half   = z · √(p(1-p)/n + z²/(4n²)) / (1 + z²/n)
#
# clipped to `[0, 1]`. Raise `ValueError` when `n <= 0` or `successes` is outside `0..n`.

# %%
def wilson_ci(successes, n, z=1.959963984540054):
    """(low, high) Wilson score interval."""
    raise NotImplementedError  # your code here


# %%
check_wilson_ci(wilson_ci)

# %% [markdown]
# ## Summary

# %%
summary()
