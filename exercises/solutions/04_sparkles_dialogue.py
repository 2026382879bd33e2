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
# # Exercises 04 · SparklesDialogue data — solutions
#
# A SparklesDialogue conversation is a list of messages; user messages carry the images they
# introduce. Before training, every dialogue is validated and split into one example per answer.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/04_sparkles_dialogue.ipynb`. The lesson itself: `notebooks/04_sparkles_dialogue.ipynb`.

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
from sparkles_lite.data.schema import IMAGE_BLOCK, IMAGE_TOKEN, ImageRef, Message
from sparkles_lite.exercises import check_placeholder_errors, check_split_turns, summary


# %% [markdown]
# ## Task 1 · Validate placeholder counts
#
# Write `placeholder_errors(messages)`: the indices (ascending) of the messages whose placeholders and
# images disagree, `[]` when all is well. A message is wrong when
#
# * its number of `<ImageHere>` (`IMAGE_TOKEN`) differs from `len(message.images)`, or
# * it is an assistant message with any placeholder: the model writes text, never images. (Mentioning
#   `IMAGE#1` in an answer's text is fine.)

# %% tags=["solution"]
def placeholder_errors(messages):
    """Indices of messages whose placeholders and images disagree."""
    ### BEGIN SOLUTION
    bad = []
    for i, m in enumerate(messages):
        n = m.content.count(IMAGE_TOKEN)
        if n != len(m.images) or (m.role == "assistant" and n > 0):
            bad.append(i)
    return bad
    ### END SOLUTION


# %%
check_placeholder_errors(placeholder_errors)


# %% [markdown]
# ## Task 2 · Split a dialogue into turns
#
# Sparkles trains on every answer of a dialogue, each with the conversation before it. Write
# `split_turns(messages)` → a list of `(history, answer)` pairs: for each assistant message, `history`
# is the list of all messages before it (ending with the user's question) and `answer` its text.
#
# A dialogue must be non-empty, have an even number of messages, and alternate user, assistant,
# user, ... starting with the user; otherwise raise `ValueError`.

# %% tags=["solution"]
def split_turns(messages):
    """[(history, answer), ...], one per assistant message."""
    ### BEGIN SOLUTION
    if not messages or len(messages) % 2:
        raise ValueError(f"need a positive even number of messages, got {len(messages)}")
    for j, m in enumerate(messages):
        expected = "user" if j % 2 == 0 else "assistant"
        if m.role != expected:
            raise ValueError(f"message {j}: expected {expected}, got {m.role}")
    return [(messages[:k], messages[k].content) for k in range(1, len(messages), 2)]
    ### END SOLUTION


# %%
check_split_turns(split_turns)

# %% [markdown]
# ## Summary

# %%
summary()
