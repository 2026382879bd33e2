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
# # 02 · The projection: from vision space to word-embedding space
#
# Notebook 01 ended with 9 tokens per image, each a 128-number vector in the *vision encoder's* space.
# The language model reads vectors of a different width (384 in the lite tier, 4096 for Vicuna-7B) that
# live in its *word-embedding* space: the table of vectors it looks words up in. SparklesChat (like
# MiniGPT-4) bridges the two with **a single `nn.Linear` layer**, and that layer is essentially all it
# trains: the vision encoder and the LLM stay frozen.
#
# **What you'll learn**
#
# 1. what the Linear layer does and what shape it has;
# 2. how small the trainable part is next to the frozen parts, for the lite tier, two real small models
#    and the paper's 7B setup (counted without loading a single weight, on PyTorch's `meta` device);
# 3. whether projected image tokens land near words like *big*, *red* or *circle* (a nearest-word probe,
#    for the stage-1 `minigpt4-lite` and the stage-2 `sparkleschat-lite`);
# 4. how their sizes (norms) compare with real word embeddings.

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
SMOKE = False   # True: fewer images in the probe, same lessons
SEED = 0        # the scenes below come from this seed
N_IMAGES = 64   # images in the nearest-word probe and the norm plot
TABLE_IMAGES = 2  # images whose 9 tokens are listed one by one

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from transformers import (Blip2QFormerConfig, Blip2QFormerModel, CLIPVisionConfig, CLIPVisionModel, LlamaConfig,
                          LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel)
from transformers.utils import logging as hf_logging

from sparkles_lite.config import preset
from sparkles_lite.lite import world
from sparkles_lite.model.pooling import build_pooling
from sparkles_lite.model.projection import build_projection
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.model.vision import LiteViT

hf_logging.disable_progress_bar()  # no "Loading weights" bars in the outputs
torch.manual_seed(SEED)
N_IMAGES = min(N_IMAGES, 8) if SMOKE else N_IMAGES

# Two shipped models with the same frozen backbones and different trained pooling + projection:
# minigpt4-lite saw only single-image captions (stage 1); sparkleschat-lite then multi-image dialogues.
models = {name: SparklesChat.from_pretrained(name).eval() for name in ("minigpt4-lite", "sparkleschat-lite")}
model = models["sparkleschat-lite"]
bank = world.SceneBank(SEED)
scenes = [bank.next() for _ in range(max(N_IMAGES, TABLE_IMAGES))]
images = [world.render(s) for s in scenes]

# %% [markdown]
# ## 1 · One Linear layer
#
# `nn.Linear(128, 384)` holds a weight matrix **W** of shape `[384, 128]` and a bias **b** of 384 numbers.
# Each image token **x** (128 numbers) becomes **W x + b** (384 numbers). The same W and b serve every
# token of every image: the layer knows nothing about positions or images, it only re-expresses vectors in
# the LLM's coordinates.

# %%
# NBVAL_CHECK_OUTPUT
proj = model.projection
print(proj)
print(f"weight {tuple(proj.weight.shape)}  +  bias {tuple(proj.bias.shape)}"
      f"  =  {proj.weight.numel()} + {proj.bias.numel()} = {sum(p.numel() for p in proj.parameters())} parameters")
with torch.no_grad():
    pooled = model.pooling(model.patch_features(model.preprocess(images[:1])))   # [1, 9, 128]
    by_hand = pooled @ proj.weight.T + proj.bias                                 # W x + b, for all 9 tokens
    print(f"pooled image tokens {tuple(pooled.shape)} -> projected {tuple(by_hand.shape)}")
    print(f"W x + b == model.projection(x): {torch.allclose(by_hand, proj(pooled), atol=1e-5)}")
    print(f"LLM word embeddings: {tuple(model.lm.get_input_embeddings().weight.shape)}  (vocabulary x width)")


# %% [markdown]
# ## 2 · Trainable vs frozen, from lite to the paper
#
# How big is the part that learns? For the lite tier we ask the real model (`parameter_counts()`). For the
# real presets we do not need their weights either: building a module on PyTorch's **`meta` device**
# creates every parameter with its shape but no memory and no values, so a 7-billion-parameter Llama
# "exists" in a fraction of a second and can be counted. The sizes come from `sparkles_lite.config`
# presets; the few numbers a preset leaves to the checkpoint's own `config.json` (vocabulary size,
# key/value heads, tied embeddings, MLP width of the vision tower) are the published values, listed below.
#
# Two readings of the paper are shown. The paper's **as published** setup keeps BLIP-2's Q-Former frozen
# and trains only the Linear (768 → 4096). This package's `paper` preset uses its own `QueryPooling`
# (trained, like the lite tier, since no pretrained Q-Former ships with it) at the ViT's width (1408).

# %%
def n_params(module):
    return sum(p.numel() for p in module.parameters())


# What the presets leave to each checkpoint's config.json (published values of those checkpoints).
PUBLISHED = {
    "smol": dict(vision_mlp=3072, vocab=49152, kv_heads=5, tied=True, lm_class="llama"),      # SigLIP-B/16, SmolLM2-360M
    "qwen": dict(vision_mlp=3072, vocab=151936, kv_heads=2, tied=True, lm_class="qwen2"),    # CLIP ViT-B/16, Qwen2.5-0.5B
    "paper": dict(vision_mlp=None, vocab=32000, kv_heads=32, tied=False, lm_class="llama"),  # EVA-CLIP-g, Vicuna-7B
}


def vision_tower(cfg):
    v, pub = cfg.vision, PUBLISHED[cfg.name]
    sizes = dict(hidden_size=v.dim, intermediate_size=pub["vision_mlp"], num_hidden_layers=v.depth,
                 num_attention_heads=v.heads, image_size=v.image_size, patch_size=v.patch_size)
    if "siglip" in (v.path or ""):
        return SiglipVisionModel(SiglipVisionConfig(**sizes))
    if "clip" in (v.path or ""):
        return CLIPVisionModel(CLIPVisionConfig(**sizes))
    return LiteViT(v)  # paper: a plain ViT with EVA-CLIP-g's sizes (39 blocks, width 1408)


def language_model(cfg):
    lm, pub = cfg.lm, PUBLISHED[cfg.name]
    sizes = dict(vocab_size=pub["vocab"], hidden_size=lm.hidden, intermediate_size=lm.intermediate,
                 num_hidden_layers=lm.layers, num_attention_heads=lm.heads, num_key_value_heads=pub["kv_heads"],
                 tie_word_embeddings=pub["tied"])
    return Qwen2ForCausalLM(Qwen2Config(**sizes)) if pub["lm_class"] == "qwen2" else LlamaForCausalLM(LlamaConfig(**sizes))


def count_preset(name):
    cfg = preset(name)
    with torch.device("meta"):  # shapes only: no memory, no weights, no download
        vision = vision_tower(cfg)
        n_patches = (cfg.vision.image_size // cfg.vision.patch_size) ** 2
        pool_cfg = cfg.pooling
        if cfg.vision.dim % pool_cfg.heads:  # `paper`: 12 heads do not divide width 1408; counts do not depend on heads
            pool_cfg = dataclasses.replace(pool_cfg, heads=cfg.vision.heads)
        pooling = build_pooling(pool_cfg, cfg.vision.dim, n_patches)
        projection = build_projection(cfg.projection, cfg.vision.dim, cfg.lm.hidden)
        lm = language_model(cfg)
    counts = {"vision": n_params(vision), "pooling": n_params(pooling), "projection": n_params(projection),
              "lm": n_params(lm)}
    counts["trainable"] = counts["projection"] + (counts["pooling"] if cfg.pooling.trainable else 0)
    return counts


def count_paper_as_published():
    cfg = preset("paper")
    with torch.device("meta"):
        vision = LiteViT(cfg.vision)
        qformer = Blip2QFormerModel(Blip2QFormerConfig(encoder_hidden_size=cfg.vision.dim))  # BLIP-2's, frozen
        queries = 32 * qformer.config.hidden_size                                          # its 32 query vectors
        projection = torch.nn.Linear(qformer.config.hidden_size, cfg.lm.hidden)             # 768 -> 4096
        lm = language_model(cfg)
    counts = {"vision": n_params(vision), "pooling": n_params(qformer) + queries,
              "projection": n_params(projection), "lm": n_params(lm)}
    counts["trainable"] = counts["projection"]
    return counts


table = {"lite (shipped)": model.parameter_counts()}
for name in ("smol", "qwen", "paper"):
    table[f"{name} preset"] = count_preset(name)
table["paper as published"] = count_paper_as_published()


# %%
# NBVAL_CHECK_OUTPUT
def human(n):
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}" if unit == "B" else f"{n / size:.1f}{unit}"
    return str(n)


print(f"{'':20s} {'vision':>9s} {'pooling':>9s} {'projection':>10s} {'LLM':>9s} {'total':>9s} {'trainable':>10s} {'share':>7s}")
for name, c in table.items():
    total = c["vision"] + c["pooling"] + c["projection"] + c["lm"]
    print(f"{name:20s} {human(c['vision']):>9s} {human(c['pooling']):>9s} {human(c['projection']):>10s} "
          f"{human(c['lm']):>9s} {human(total):>9s} {human(c['trainable']):>10s} {100 * c['trainable'] / total:6.2f}%")
print("\nfrozen: vision and LLM always; pooling trains in this package's presets, not in the paper as published")
print(f"lite Linear: {model.config.vision.dim} x {model.lm.config.hidden_size} + {model.lm.config.hidden_size} = "
      f"{table['lite (shipped)']['projection']};  paper Linear: 768 x 4096 + 4096 = "
      f"{table['paper as published']['projection']}")

# %%
names = list(table)
frozen = [table[n]["vision"] + table[n]["lm"] + table[n]["pooling"] + table[n]["projection"] - table[n]["trainable"]
          for n in names]
trainable = [table[n]["trainable"] for n in names]
fig, ax = plt.subplots(figsize=(9.5, 4))
y = np.arange(len(names))
ax.barh(y - 0.2, frozen, height=0.38, color="#cfe0ff", ec="grey", label="frozen")
ax.barh(y + 0.2, trainable, height=0.38, color="#e08a00", label="trainable")
for yi, f, t in zip(y, frozen, trainable):
    ax.text(f, yi - 0.2, f" {human(f)}", va="center", fontsize=8)
    ax.text(t, yi + 0.2, f" {human(t)} ({100 * t / (f + t):.2f}%)", va="center", fontsize=8)
ax.set_xscale("log")
ax.set_xlim(1e4, 1e12)
ax.set_yticks(y, names)
ax.invert_yaxis()
ax.set_xlabel("parameters (log scale: each step is 10x)")
ax.set_title("Frozen vs trainable parameters per setup")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout();

# %% [markdown]
# So in the paper, about **3 million** parameters learn, while about **7.8 billion** stay frozen: roughly
# 0.04 %. That is why MiniGPT-4's first stage trains in hours and SparklesChat's second stage in minutes
# to hours: the gradient only has to reach one small matrix (and the frozen parts can even run in half
# precision without gradients).
#
# ## 3 · Do image tokens land near words?
#
# The projection is trained so that the frozen LLM, reading the projected vectors in place of
# `<ImageHere>`, continues the text correctly. It is **not** told to imitate any particular word. Still, the
# lite LM was pretrained to read each image as 9 slot words (*big red circle nothing nothing nothing
# small blue square*, notebook 00), so we can ask: is projected token *i* close to the slot word it stands
# for?
#
# The probe: for every projected token, find the vocabulary entry whose input embedding
# (`model.lm.get_input_embeddings().weight`) has the highest **cosine similarity** (the angle between the
# vectors, ignoring their lengths).

# %%
embeddings = model.lm.get_input_embeddings().weight.detach()     # [vocab, 384], the same for both models
vocab = [model.tokenizer.decode([i]).strip() or repr(model.tokenizer.decode([i])) for i in range(len(embeddings))]
LITE_WORDS = set(world.SIZES) | set(world.COLOURS) | set(world.SHAPES) | {world.EMPTY_SLOT_WORD}
SLOT_NAMES = [f"{pos} {attr}" for pos in world.POSITIONS for attr in ("size", "colour", "shape")]

tokens, nearest, best_cos = {}, {}, {}
for name, m in models.items():
    with torch.no_grad():
        t = m.encode_images(images)                               # [n, 9, 384]
    sims = F.normalize(t, dim=-1) @ F.normalize(embeddings, dim=-1).T   # [n, 9, vocab] cosine similarities
    tokens[name], best_cos[name], nearest[name] = t, *sims.max(-1)

for i in range(TABLE_IMAGES):
    truth = world.slot_words(scenes[i])
    print(f"IMAGE {i}: {world.describe(scenes[i])}")
    print(f"  {'':26s}" + "".join(f"{n:>20s}" for n in models))
    print(f"  {'token':15s} {'slot word':10s}" + "".join(f"{'nearest (cos)':>20s}" for n in models))
    for k in range(len(truth)):
        cells = "".join(f"{vocab[nearest[n][i, k]] + f' ({best_cos[n][i, k]:.2f})':>20s}" for n in models)
        print(f"  {k} {SLOT_NAMES[k]:13s} {truth[k]:10s} {cells}")
    print()

# %%
# NBVAL_CHECK_OUTPUT
# SMOKE_DEPENDENT
truth = np.array([world.slot_words(s) for s in scenes[:N_IMAGES]])      # [n, 9]
print(f"over {N_IMAGES} images x 9 tokens:")
print(f"{'':20s} {'= its slot word':>16s} {'a lite word':>12s} {'mean best cos':>14s}")
for name in models:
    words = np.array([[vocab[j] for j in row] for row in nearest[name][:N_IMAGES].tolist()])
    exact = (words == truth).mean()
    lite = np.isin(words, list(LITE_WORDS)).mean()
    print(f"{name:20s} {exact:16.0%} {lite:12.0%} {best_cos[name][:N_IMAGES].mean():14.2f}")
print(f"{'chance (1 / vocab)':20s} {1 / len(vocab):16.1%}")

# %% [markdown]
# Read the table with care: a nearest word that matches is a hint, not proof, and cosines around 0.2-0.4
# are weak in 384 dimensions. The projected tokens do carry the scene (the LLM answers questions about it
# in notebooks 06-08), but mostly **not as copies of word embeddings**: the projection found its own
# way of "speaking" to the frozen LLM, a *soft prompt* that no sequence of words could reproduce exactly.
# The nearest words are often the *kind* of word that matters (colours, sizes), which is the part of the
# meaning the frozen LLM can easily reuse.
#
# ## 4 · Sizes: image tokens vs word embeddings
#
# Cosine similarity ignores length. The lengths tell their own story:

# %%
word_norms = embeddings.norm(dim=-1).numpy()
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
bins = np.logspace(np.log10(0.3), np.log10(300), 60)
axes[0].hist(word_norms, bins=bins, color="#7a8ca8", alpha=0.8, label=f"word embeddings ({len(word_norms)})", log=True)
for name, colour in zip(models, ("#5aa469", "#e08a00")):
    norms = tokens[name][:N_IMAGES].norm(dim=-1).flatten().numpy()
    axes[0].hist(norms, bins=bins, color=colour, alpha=0.7, label=f"{name} image tokens ({len(norms)})", log=True)
axes[0].set_xscale("log")
axes[0].set_xlabel("vector length (norm), log scale")
axes[0].set_ylabel("count (log scale)")
axes[0].set_title("image tokens are much longer than word vectors", fontsize=10)
axes[0].legend(fontsize=8)

# The words an image stands for; most of the 500 vocabulary entries (byte pieces) never occur in lite text
# and keep their initial length, so the whole vocabulary's median would mislead.
lite_word_norm = float(np.median([word_norms[vocab.index(w)] for w in LITE_WORDS]))
per_slot = tokens["sparkleschat-lite"][:N_IMAGES].norm(dim=-1).numpy()   # [n, 9]
axes[1].boxplot([per_slot[:, k] for k in range(per_slot.shape[1])], tick_labels=[str(k) for k in range(9)])
axes[1].axhline(lite_word_norm, ls="--", c="#7a8ca8", lw=1.2)
axes[1].text(0.6, lite_word_norm * 1.15, "median norm of the lite words (sizes, colours, shapes, nothing)",
             va="bottom", fontsize=8, color="#7a8ca8")
axes[1].set_yscale("log")
axes[1].set_xlabel("image token (query) index")
axes[1].set_ylabel("norm, log scale")
axes[1].set_title("sparkleschat-lite: norm of each of the 9 image tokens", fontsize=10)
fig.tight_layout();

# %%
# NBVAL_CHECK_OUTPUT
ratios = {n: tokens[n][:TABLE_IMAGES].norm(dim=-1).median().item() / lite_word_norm for n in models}
print("median image-token norm / median norm of the lite words: "
      + ", ".join(f"{n} {'above 10x' if r > 10 else 'below 10x'}" for n, r in ratios.items()))

# %% [markdown]
# The projected image tokens are **tens of times longer** than the words they stand for (the median
# length of the lite words' embeddings is ~1.1). Nothing in training asked them to stay small. Llama
# rescales every vector (RMSNorm) before each attention and MLP layer, so the length does not change what
# those layers *read*, only the direction does; but the long vector stays in the residual stream, where the
# layers' small updates barely move it. This is a common finding with linear projections into frozen
# LLMs: image tokens are a language of their own that lives *beside* the word embeddings, not among them.
#
# Is the length a flaw to fix? Training the projection twice for the same steps, once free (as here and
# in the paper) and once with every image token rescaled to a word's length, the fixed-length run does
# **worse** on held-out loss and on select accuracy (the runs: RESULTS.md, "Image-token length"). The
# long vectors are part of how the projection gets heard.
#
# ## What's next
#
# We now know how one image becomes 9 vectors the LLM can read. **[03 · interleaved
# tokens](03_interleaved_tokens.ipynb)** puts several images *inside* a conversation: how
# `IMAGE#804<Img><ImageHere></Img>` expands to 9 positions, how the projected tokens are spliced into the
# word embeddings in order, which positions the loss supervises, and what goes wrong when placeholders and
# images disagree.
#
# *Try it:* probe `control-lite` too (`SparklesChat.from_pretrained("control-lite")`); compare the nearest
# words of the 3 tokens of an empty position (`nothing nothing nothing`) with those of an object.

# %% [markdown]
# ## Questions to think about
#
# 1. About 50 thousand projection parameters connect a vision tower and an LM of millions. Why can
#    so few parameters be enough?
# 2. The projected tokens are not near the words they stand for, yet the LM answers questions about
#    them. How can that be?
# 3. Image tokens are tens of times longer than word embeddings, and Llama applies RMSNorm before
#    every layer. Why does the length still matter?
# 4. Only the projection trains, but a training step still costs a full backward pass through the
#    frozen LM. Why?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
