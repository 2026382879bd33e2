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
# # 09 · Attention across images: where does the model look when it says IMAGE#2?
#
# SparklesChat puts every image inside the sentence that names it, `IMAGE#2<Img><ImageHere></Img>`, as K
# projected tokens (9 in the lite tier). When the model then writes an answer such as *"IMAGE#2 has the
# most objects"*, each token it produces came from one attention pattern per layer and head over the whole
# sequence: the question's words, every image's tokens, and the answer so far. This notebook reads those
# patterns.
#
# **What you'll learn**
#
# 1. how to split an answer token's attention into *image 1, image 2, ..., text*;
# 2. the same per layer and head, where specialised heads show up;
# 3. how to carry attention on the 9 pooled tokens down to the 64 patches of each image (an approximation,
#    and what it leaves out);
# 4. MiniGPT-4-lite (trained on single-image captions only) vs SparklesChat-lite (plus multi-image
#    dialogues) on the same cross-image question;
# 5. a **causal** view beside the attention: remove one image at a time and measure how much less likely
#    the answer becomes; a words × images map of what each image contributed;
# 6. both lenses *measured* over an evaluation set, with 95% intervals: when an answer spells `IMAGE#k`,
#    how much of it is about image k, against chance; and what that says.
#
# Attention weights are a lens, not an explanation: a head can look at a token without using it, and use
# a token it barely looks at. Sections 1-4 describe where the weights go; sections 5-6 test what the
# answer depends on.

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
# Parameters: papermill overrides these (the tests pass SMOKE=True for a fast run).
SMOKE = False          # True: a tiny evaluation set, same lessons
SEED = 0               # scenes of the worked example
N_EVAL = 40            # 'select' questions for the statistic (plus N_EVAL // 2 two-turn dialogues)
ABLATION = "blank"     # how section 6 removes an image: "blank" (its content) or "drop" (its whole block)
MAX_NEW_TOKENS = 32

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from transformers.utils import logging as hf_logging

from sparkles_lite.data.schema import USER, ImageRef, Message, insert_placeholders
from sparkles_lite.lite import world
from sparkles_lite.lite.eval import eval_examples
from sparkles_lite.lite.tasks import score_answer
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.viz import charts, plots
from sparkles_lite.viz.attention import image_attention, pooling_attention
from sparkles_lite.viz.influence import image_influence
from sparkles_lite.viz.reference import reference_stat, reference_table, verdict

if SMOKE:
    N_EVAL = 4
hf_logging.disable_progress_bar()  # no "Loading weights" bars in the outputs
torch.manual_seed(SEED)
torch.set_num_threads(1)  # the lite models are tiny: one thread is as fast and keeps the laptop free
models = {"MiniGPT-4-lite": SparklesChat.from_pretrained("minigpt4-lite"),
          "SparklesChat-lite": SparklesChat.from_pretrained("sparkleschat-lite")}
model = models["SparklesChat-lite"]

# %% [markdown]
# ## 1 · One answer, split by image
#
# Three lite scenes with 1, 3 and 2 objects, so the right answer to *"Which image has the most objects?"*
# is IMAGE#2. The question uses the same wording as the training dialogues (`sparkles_lite.lite.tasks`).

# %%
bank = world.SceneBank(SEED)
scenes = [bank.next(n_objects=n) for n in (1, 3, 2)]
images = [world.render(s, size=128) for s in scenes]
ids = ["1", "2", "3"]
question = "Which image has the most objects: IMAGE#1, IMAGE#2 or IMAGE#3?"
messages = [Message(USER, insert_placeholders(question, ids), [ImageRef(i) for i in ids])]

charts.image_rows([("", images, [f"IMAGE#{i}\n{world.describe(s)}" for i, s in zip(ids, scenes)])]);

# %% [markdown]
# The prompt the LLM reads is one sequence: text tokens, and K positions per image whose embeddings are
# that image's projected tokens. `prompt.image_index` says which position belongs to which image (-1 for
# text); everything below is bookkeeping over that map. (This cell depends on the tokenizer and the
# template only, not on trained weights.)

# %%
# NBVAL_CHECK_OUTPUT
prompt = model.assemble(messages, add_generation_prompt=True)
index = np.array(prompt.image_index)
print(f"{len(prompt)} positions, {model.tokens_per_image} per image")
for n, i in enumerate(ids):
    where = np.flatnonzero(index == n)
    print(f"  IMAGE#{i}: positions {where[0]}..{where[-1]}")
print(f"  text: {(index < 0).sum()} positions")

# %% [markdown]
# Generate greedily with `output_attentions=True`. For answer token *s* we keep the attention row that
# **produced** it (the last query row of step *s*), and add up its weight on each image's K positions and
# on everything else (the question's text and the answer so far). The columns of a row sum to 1.

# %%
gen = model.generate(messages, images, max_new_tokens=MAX_NEW_TOKENS, output_attentions=True)
summary = image_attention(gen, model)
print("answer:", gen.text)
print(f"{len(summary.tokens)} answer tokens x {summary.n_layers} layers x {summary.n_heads} heads x "
      f"{summary.n_images} images + text")
plots.attention_heatmap(summary, title="SparklesChat-lite: attention share of each answer word (mean of layers and heads)");

# %% [markdown]
# Typically most of the weight sits on text: language models attend heavily to the first tokens and the recent words,
# and the image tokens are only 3 × K of the positions. To compare images with each other, normalise over the
# image columns only: each row then says how the word's *image* attention divides between the images.

# %%
plots.attention_heatmap(summary, images_only=True, title="share of image attention (rows sum to 1 over images)");

# %% [markdown]
# ## 2 · Per layer and head
#
# Averages hide specialists. Below, every layer (rows) and head (columns) gets its own words × images
# panel, normalised over images; then, for one word, the same numbers as one strip per image.

# %%
plots.layer_head_grid(summary);

# %%
words = [w for w, _ in summary.words()]
# The word that names an image, if the answer names one; else the first word.
word = next((k for k, w in enumerate(words) if "IMAGE#" in w), 0)
print("chosen word:", repr(words[word]))
plots.layer_head_grid(summary, word=word);


# %% [markdown]
# Pick a layer, a head and a word yourself (-1 means the mean). In a live notebook the figure follows the
# sliders; the committed copy shows only the static figures above.

# %%
def show(layer=-1, head=-1, word=0, images_only=True):
    fig = plots.attention_heatmap(summary, None if layer < 0 else layer, None if head < 0 else head,
                                  images_only=images_only)
    fig.axes[0].get_yticklabels()[word].set_color("red")
    plt.show()


widgets.interact(show, layer=widgets.IntSlider(-1, -1, summary.n_layers - 1),
                 head=widgets.IntSlider(-1, -1, summary.n_heads - 1),
                 word=widgets.Dropdown(options=[(w, k) for k, w in enumerate(words)], value=word));

# %% [markdown]
# ## 3 · Down to the patches
#
# The LLM sees 9 pooled tokens per image, not pixels. Each pooled token is a query of the pooling layer
# (the Q-Former's role) that read the 64 patch features with its own attention, `P(q → patch)`. Multiplying
# the word's attention on token *q* by `P(q → patch)` and summing over *q* spreads the word's attention
# over patches: one step of **attention rollout** through the pooling. The projection acts on each token
# alone, so it needs no step of its own.
#
# What it leaves out: the value vectors and residual paths (a weight is not an influence), the pooling's
# MLP, and the vision tower's own self-attention, which has already mixed information between patches.
# So read the maps as *where the attended tokens drew from*. All images share one colour scale, and each
# title gives the word's total attention on that image.

# %%
pool = pooling_attention(model, images)   # [images, 9 queries, 8, 8]
print("pooling attention:", pool.shape, "- each query's weights over patches sum to", pool[0, 0].sum().round(3))
plots.patch_overlay(summary, model, images, word=word, pooling=pool);

# %%
# The last word of the answer, for contrast.
plots.patch_overlay(summary, model, images, word=len(words) - 1, pooling=pool);

# %% [markdown]
# ## 4 · MiniGPT-4-lite vs SparklesChat-lite on the same question
#
# Both models share the frozen vision tower and the frozen LLM; only the trained projection differs
# (MiniGPT-4-lite saw single-image captions only). Same images, same question: their answers, and how the
# image attention of each answer word divides between the images.

# %%
summaries = {}
for name, m in models.items():
    g = m.generate(messages, images, max_new_tokens=MAX_NEW_TOKENS, output_attentions=True)
    summaries[name] = image_attention(g, m)
    print(f"{name:18s} {g.text}")
plots.compare_heatmaps(summaries);

# %%
# Does a spelled-out IMAGE#k look at image k? Digits of each mention, mean of layers and heads.
for name, s in summaries.items():
    found = [m for m in s.mentions() if m["image"] is not None]
    if not found:
        print(f"{name}: the answer names none of the three images")
    for m in found:
        share = s.image_share()[m["tokens"]].mean(axis=0)
        parts = ", ".join(f"IMAGE#{i} {100 * v:.0f}%" for i, v in zip(ids, share))
        print(f"{name}: tokens of IMAGE#{m['id']} -> {parts} of their image attention (chance 33%)")

# %% [markdown]
# ## 5 · Remove an image: what the answer depends on
#
# Attention says where the weights went, not whether what was read mattered. So ask the model directly.
# Keep its answer fixed (the very tokens it generated), score it once with every image, then once with
# each image removed, and compare the log-probabilities token by token (`sparkles_lite.viz.influence`):
#
# $$\Delta_{t,i} = \log p(\text{token}_t \mid \text{all images}) - \log p(\text{token}_t \mid \text{image } i \text{ removed})$$
#
# $\Delta > 0$: image *i* supported the token (without it the token became less likely); $\Delta \approx 0$:
# the token did not need image *i*; $\Delta < 0$: image *i* argued against it. A word's row is the sum of
# its tokens' (a word's log-probability is the sum of its tokens').
#
# *Removing* can mean two things:
#
# - **blank** (used below): the image's 9 tokens are replaced by those of a blank canvas. Length, positions
#   and text stay exactly as they were; only the image's *content* is gone. This is the clean experiment.
# - **drop**: the `<Img><ImageHere></Img>` block is taken out, leaving the name `IMAGE#k` with no image.
#   Every later position shifts, and the model reads a sequence it never met in training, so a change
#   mixes "the content is gone" with "the input is strange".

# %%
influence = image_influence(model, messages, images, gen, ablation="blank")
plots.attention_and_influence(summary, influence,
                              title=f"SparklesChat-lite: {gen.text!r}, two lenses on the same answer");

# %% [markdown]
# Both ways of removing an image, for each word of the answer that names an image (Δ log p in nats; the
# larger, the more the word needed that image):

# %%
dropped = image_influence(model, messages, images, gen, ablation="drop")
rows = ["| word | removal | " + " | ".join(influence.image_labels) + " |", "|---|---|" + "---|" * len(ids)]
for inf in (influence, dropped):
    for word, values in zip(*inf.by_words()):
        if "IMAGE#" in word:
            rows.append(f"| {word} | {inf.ablation} | " + " | ".join(f"{v:+.2f}" for v in values) + " |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# Where the two rows disagree, trust *blank* more: dropping a block also moves every later position and
# shows the model a name without an image, so an id can lose probability when an image it never needed is
# dropped. Blanking changes only the content.
#
# The causal view also says *which image an answer was read from*. Ask for a description of each image in
# turn: a right description should depend on the image asked about; a wrong one often turns out to be
# another image's description, and the influence shows whose.

# %%
rows = ["| question | answer | right? | answer's support from " + " / ".join(f"IMAGE#{i}" for i in ids)
        + " (Δ log p, nats) | read from |", "|---|---|---|---|---|"]
for k, i in enumerate(ids):
    q = f"IMAGE#1, IMAGE#2 and IMAGE#3. What is in IMAGE#{i}?"
    msgs = [Message(USER, insert_placeholders(q, ids), [ImageRef(j) for j in ids])]
    g = model.generate(msgs, images, max_new_tokens=MAX_NEW_TOKENS)
    inf = image_influence(model, msgs, images, g)
    total = inf.delta.sum(axis=0)
    right = score_answer({"kind": "scene", "id": i}, g.text, dict(zip(ids, scenes)))  # the evaluation's scorer
    rows.append(f"| What is in IMAGE#{i}? | {g.text} | {'✓' if right else '✗'} | "
                + " / ".join(f"{v:+.1f}" for v in total) + f" | IMAGE#{ids[int(total.argmax())]} |")
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## 6 · Both lenses, measured over an evaluation set
#
# One example proves nothing. Over the held-out lite sets (`eval_examples`: 'select among 2-4' questions
# and two-turn dialogues, every turn answered with the model's own history), take every `IMAGE#<id>` an
# answer spells with the id of one of its images, and the tokens of the id (the digits after `#`). Two
# shares of "how much of it is about the named image" (`sparkles_lite.viz.reference`):
#
# - **attention share**: their attention restricted to image tokens and normalised over them (mean of
#   layers and heads), the part on the named image;
# - **influence share**: of the log-probability the id loses when each image is removed (its positive
#   part), the part lost to removing the named image. If removing no image lowers it, the share is split
#   evenly.
#
# **Chance** is what an even split gives: 1 / the number of images in that prompt (2-4), averaged over the
# mentions. Each share has a bootstrap 95% interval that resamples whole examples (the mentions of one
# conversation are not independent), as does its difference from chance. The table is computed here, for
# these weights; `unknown ids` (ids that match none of the images) are counted and left out.

# %%
examples = eval_examples("select", N_EVAL) + eval_examples("dialogue", max(1, N_EVAL // 2))
stats = {name: reference_stat(m, examples, max_new_tokens=MAX_NEW_TOKENS, ablation=ABLATION)
         for name, m in models.items()}
display(Markdown(reference_table(stats)))
for name, st in stats.items():
    print(f"{name}: {st.n_answers} answers, {st.n_mentions} mentions of one of their images, "
          f"{st.n_unknown_ids} unknown ids")

# %%
plots.compare_stats(stats);

# %% [markdown]
# ## 7 · What the numbers say
#
# The verdicts below are computed from the intervals above (a share is called above or below chance only
# when the 95% interval of its difference from chance leaves out 0), so they stay true when the weights
# change.

# %%
lines = []
for name, st in stats.items():
    for lens in ("attention", "influence"):
        lines.append(f"- **{name}, {lens}**: {verdict(st.lens(lens))}.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# **Conclusion**, written from the same verdicts:

# %%
def conclusion(name: str) -> str:
    att, inf = stats[name].lens("attention"), stats[name].lens("influence")
    if att is None or inf is None:
        return f"**{name}** named none of its images, so neither lens can be measured."
    a, i = att.relation, inf.relation
    points = lambda r: f"{100 * r.excess[0]:+.0f} points"  # noqa: E731
    if i == "above" and a != "above":
        return (f"**{name}**: the ids it writes lean on the image they name (influence {points(inf)} over "
                f"chance) although its attention does not favour that image ({points(att)}): attention alone "
                f"would have said it copies the id from the text without looking.")
    if i == "above":
        return (f"**{name}** both looks at and uses the image it names; the causal share is the stronger signal "
                f"(influence {points(inf)} over chance, attention {points(att)}).")
    if a == "above":
        return (f"**{name}** looks at the image it names a little more than chance ({points(att)}) but does not "
                f"depend on it ({points(inf)}): a case where attention would mislead.")
    return (f"**{name}**: neither lens separates the named image from chance (attention {points(att)}, "
            f"influence {points(inf)}): the ids it writes are not read from the images they name.")


display(Markdown("\n\n".join(conclusion(name) for name in stats)))

# %% [markdown]
# The lesson is the one this notebook opened with: attention weights describe where a model looks, not what
# it uses. To know what an answer depends on, change the input and measure.
#
# What the causal view cannot do either: it measures one image at a time, so two images that each suffice
# (either one would do) both look unimportant; a blank canvas is itself an input (it says "no objects"),
# not an absence; and the numbers are for the answer the model gave, not for the right one.
#
# **Try it**: change `SEED` for other scenes; set `ABLATION = "drop"` and compare the table; ask a question
# that names two images ("What do IMAGE#1 and IMAGE#3 have in common?"); or run the statistic on
# `eval_examples("bison", n)`, where the ids are always 1 and 2.

# %% [markdown]
# ## Questions to think about
#
# 1. Why normalise attention over the image columns before comparing images?
# 2. Why is *blank* the cleaner way to remove an image than *drop*, and what does blanking still
#    change?
# 3. Compare SparklesChat-lite's attention share and influence share in section 6. When the
#    influence share is far above chance and the attention share barely above it, how can an answer
#    depend on an image that gets so little attention weight?
# 4. Two images each suffice for an answer (both hold a red circle). What does the one-at-a-time
#    influence show, and how would you measure such a case?
# 5. Why does the bootstrap resample whole examples rather than single mentions?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
