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
# # Exercises 00 · The lite world — solutions
#
# The lite world is made of scenes with 1-3 coloured shapes (left, centre, right). Every fact about a
# scene is known, so every answer about it can be checked. These two warm-up tasks use the scene API:
# `scene.things` (left to right), and each thing's `.size`, `.colour`, `.shape`.
#
# **How to work:** each task has an explanation, a code cell to complete (replace
# `raise NotImplementedError` with your code) and a check cell. Run the check: it tries your function on
# hidden cases, including edge cases, and prints ✅ when all pass, ❌ with the first failing input
# (expected vs. got, and what the case is about), or ⬜ while the task is not attempted. Worked
# solutions: `exercises/solutions/00_tour.ipynb`. The lesson itself: `notebooks/00_tour.ipynb`.

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
from sparkles_lite.exercises import check_count_objects, check_describe, example_scenes, summary
from sparkles_lite.lite import world

scenes = example_scenes(seed=SEED, n=4)
for s in scenes:
    print([(t.size, t.colour, t.shape) for t in s.things])


# %% [markdown]
# ## Task 1 · Describe a scene
#
# Write `describe(scene)`: the canonical English description the lite models learn to produce.
#
# * Each object reads `a <size> <colour> <shape>`: `a big red circle`.
# * **Identical** objects (same size, colour and shape) are grouped with a number word and a plural:
#   `two small blue squares`, `three big green diamonds` (`world.NUMBER_WORDS[2] == "two"`).
# * Groups come in the order of their first appearance, left to right.
# * Phrases are joined with `, ` and a final ` and `: `a big red circle, two small blue squares and a
#   small green triangle`.

# %% tags=["solution"]
def describe(scene):
    """'a big red circle and two small blue squares'"""
    ### BEGIN SOLUTION
    groups = {}  # thing -> count, in order of first appearance (dicts keep insertion order)
    for thing in scene.things:
        groups[thing] = groups.get(thing, 0) + 1
    phrases = []
    for thing, n in groups.items():
        if n == 1:
            phrases.append(f"a {thing.size} {thing.colour} {thing.shape}")
        else:
            phrases.append(f"{world.NUMBER_WORDS[n]} {thing.size} {thing.colour} {thing.shape}s")
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]
    ### END SOLUTION


# %%
check_describe(describe)


# %% [markdown]
# ## Task 2 · Count objects across scenes
#
# SparklesChat's questions often span images: *how many circles are there in IMAGE#1 and IMAGE#2
# together?* Write `count_objects(scenes, shape=None, colour=None, size=None)`: the number of objects,
# over all scenes, that match **every** attribute given (`None` matches anything).

# %% tags=["solution"]
def count_objects(scenes, shape=None, colour=None, size=None):
    """Objects in all scenes matching every given attribute."""
    ### BEGIN SOLUTION
    total = 0
    for scene in scenes:
        for t in scene.things:
            if ((shape is None or t.shape == shape) and (colour is None or t.colour == colour)
                    and (size is None or t.size == size)):
                total += 1
    return total
    ### END SOLUTION


# %%
check_count_objects(count_objects)

# %% [markdown]
# ## Summary

# %%
summary()
