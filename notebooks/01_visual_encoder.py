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
# # 01 · The visual encoder: from pixels to a few image tokens
#
# SparklesChat never shows raw pixels to its language model. A **frozen vision encoder** first turns each
# image into a short list of feature vectors. In the paper that is EVA-CLIP ViT-g (a 1-billion-parameter
# Vision Transformer) followed by BLIP-2's Q-Former, which squeezes the ViT's 257 patch features into
# **32 query tokens** per image. The lite tier has the same pieces at toy scale: a 4-layer ViT on 64×64
# images and a query pooling that squeezes its 64 patch features into **9 tokens**.
#
# **What you'll learn**
#
# 1. how an image becomes a sequence of patches (8×8 pixels each);
# 2. the ViT forward pass, step by step, checked against the shipped `LiteViT`;
# 3. what the patch features hold (a PCA of them, shown as colours);
# 4. what self-attention inside the ViT looks at;
# 5. how query pooling turns 64 patch features into 9 tokens, and which patches each query reads;
# 6. why the paper used a fixed 32 tokens per image;
# 7. (optional) the same steps with a real CLIP or SigLIP tower.
#
# Everything runs on a CPU in seconds. No class is defined here: every model part is imported from
# `sparkles_lite`, so what you read is what the later notebooks train and evaluate.

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
SMOKE = False          # True: fewer scenes, same lessons
SEED = 0               # every scene below comes from this seed
N_SCENES = 4           # scenes shown in the feature and attention plots
HF_VISION_PATH = None  # a local CLIP/SigLIP checkpoint folder (or hub id, with network) for section 7

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from transformers.utils import logging as hf_logging

from sparkles_lite.config import PoolingConfig, preset
from sparkles_lite.lite import world
from sparkles_lite.model.pooling import build_pooling
from sparkles_lite.model.sparkles_chat import SparklesChat

hf_logging.disable_progress_bar()  # no "Loading weights" bars in the outputs
torch.manual_seed(SEED)
N_SCENES = min(N_SCENES, 2) if SMOKE else N_SCENES

model = SparklesChat.from_pretrained("sparkleschat-lite").eval()  # shipped with the package, offline
vit, pooling = model.vision, model.pooling
bank = world.SceneBank(SEED)
scenes = [bank.next(n_objects=3 if i == 0 else None) for i in range(N_SCENES)]
images = [world.render(s) for s in scenes]  # 64x64 RGB PIL images
for i, s in enumerate(scenes):
    print(f"scene {i}: {world.describe(s)}")

# %% [markdown]
# ## 1 · An image is a grid of patches
#
# A Vision Transformer does not look at single pixels. It cuts the image into square **patches** and
# treats each patch like a word: the lite ViT cuts a 64×64 image into an 8×8 grid of 8×8-pixel patches,
# so every image becomes a sequence of **64 patches**, read row by row (patch 0 top left, patch 63 bottom
# right). EVA-CLIP in the paper does the same with a 224×224 image and 14×14 patches: 16×16 = 256 patches,
# plus one extra `[CLS]` token, 257 in all.

# %%
P = vit.cfg.patch_size
G = vit.grid  # patches per side
img = np.asarray(images[0])
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.5]})
ax0.imshow(img, extent=(0, 64, 64, 0))
for k in range(1, G):
    ax0.axhline(k * P, color="white", lw=0.8)
    ax0.axvline(k * P, color="white", lw=0.8)
for r in range(G):
    for c in range(G):
        ax0.text(c * P + P / 2, r * P + P / 2, str(r * G + c), ha="center", va="center", fontsize=6.5,
                 color="black", alpha=0.8)
ax0.set_title(f"{world.describe(scenes[0])}\ncut into {G}x{G} patches of {P}x{P} pixels", fontsize=9)
ax0.set_xticks([])
ax0.set_yticks([])

# The same 64 patches as the ViT sees them: a sequence, here wrapped into 4 rows of 16.
patches = img.reshape(G, P, G, P, 3).transpose(0, 2, 1, 3, 4).reshape(G * G, P, P, 3)
rows, per_row, gap = 4, 16, 2
canvas = np.full((rows * (P + gap), per_row * (P + gap), 3), 255, dtype=np.uint8)
for i, patch in enumerate(patches):
    r, c = divmod(i, per_row)
    canvas[r * (P + gap):r * (P + gap) + P, c * (P + gap):c * (P + gap) + P] = patch
ax1.imshow(canvas)
for r in range(rows):
    ax1.text(-1.5, r * (P + gap) + P / 2, f"{r * per_row}-{r * per_row + per_row - 1}", ha="right",
             va="center", fontsize=8)
ax1.set_title("... and read as a sequence of 64 patches (row by row)", fontsize=9)
ax1.axis("off")
fig.tight_layout();

# %% [markdown]
# ## 2 · The ViT forward pass, step by step
#
# `LiteViT.forward` is four lines long. Here they are, one at a time, on a batch of one image:
#
# 1. `preprocess`: resize to 64×64 and scale pixel values to [-1, 1] → `[batch, 3, 64, 64]`;
# 2. `patch_embed`: a convolution with kernel = stride = 8 pixels. It is exactly a Linear layer applied to
#    each flattened patch (8·8·3 = 192 numbers → 128 features), as the check below shows;
# 3. `+ pos_embed`: a learned vector per patch position, so the model knows *where* each patch was
#    (attention itself ignores order);
# 4. the transformer `blocks` (self-attention + MLP, 4 of them), then a final LayerNorm.
#
# The result must equal `vit(pixels)`, the shipped forward pass.

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    pixels = vit.preprocess(images[:1])                       # [1, 3, 64, 64]
    x = vit.patch_embed(pixels)                               # [1, 128, 8, 8]: one 128-vector per patch
    print(f"pixels           {tuple(pixels.shape)}  values in [{pixels.min():.0f}, {pixels.max():.0f}]")
    print(f"patch_embed      {tuple(x.shape)}")

    # The convolution is a Linear layer on flattened 8x8x3 patches:
    flat = F.unfold(pixels, kernel_size=P, stride=P).transpose(1, 2)     # [1, 64, 192]
    as_linear = flat @ vit.patch_embed.weight.reshape(vit.cfg.dim, -1).T + vit.patch_embed.bias
    print(f"flattened patches {tuple(flat.shape)}; conv == Linear on patches: "
          f"{torch.allclose(as_linear, x.flatten(2).transpose(1, 2), atol=1e-4)}")

    x = x.flatten(2).transpose(1, 2)                          # [1, 64, 128]: a sequence of 64 tokens
    x = x + vit.pos_embed                                     # + where each patch sits
    print(f"+ pos_embed      {tuple(x.shape)}")
    for i, block in enumerate(vit.blocks):
        x = block(x)                                          # self-attention + MLP, shape unchanged
        print(f"block {i}          {tuple(x.shape)}")
    x = vit.norm(x)
    print(f"norm             {tuple(x.shape)}")

    reference = vit(pixels)
    print(f"step by step == vit(pixels): {torch.allclose(x, reference, atol=1e-5)}")

# %% [markdown]
# ## 3 · What the patch features hold
#
# Each of the 64 patches now carries a 128-number feature vector. 128 dimensions cannot be drawn, but a
# **PCA** can squeeze them to their 3 main directions, which we show as red, green and blue: patches with
# similar features get similar colours. The ViT was pretrained (`sparkles_lite.lite.pretrain`) to tell
# size, colour and shape at each of the three positions, so we expect object patches to stand out from the
# background, and objects of different kinds to differ.
#
# Look at the empty background too: its colour changes from column to column. The features carry *where*
# a patch is (thanks to `pos_embed`), which the pooling needs to tell left, centre and right apart. The
# third column shows how far each patch's feature is from a background patch's (1 − cosine similarity to
# the top-left corner patch): the objects light up. (The plain feature length would show nothing: the
# final LayerNorm makes every feature about the same length.)

# %%
with torch.no_grad():
    feats = model.patch_features(model.preprocess(images))       # [n, 64, 128]
flat = feats.reshape(-1, feats.shape[-1])
centred = flat - flat.mean(0)
_, _, v = torch.linalg.svd(centred, full_matrices=False)         # PCA over every patch of every scene
pcs = centred @ v[:3].T
pcs = (pcs - pcs.min(0).values) / (pcs.max(0).values - pcs.min(0).values)
rgb = pcs.reshape(len(images), G, G, 3).numpy()
corner = feats[:, :1]                                           # the top-left patch: background
distance = (1 - F.cosine_similarity(feats, corner, dim=-1)).reshape(len(images), G, G).numpy()

fig, axes = plt.subplots(len(images), 3, figsize=(8, 2.9 * len(images)), squeeze=False)
for i, (a_img, a_pca, a_dist) in enumerate(axes):
    a_img.imshow(images[i])
    a_img.set_title(world.describe(scenes[i]).replace(", ", ",\n").replace(" and ", "\nand "), fontsize=8)
    a_pca.imshow(rgb[i], interpolation="nearest")
    a_pca.set_title("PCA of patch features\n(3 main directions as RGB)", fontsize=8)
    im = a_dist.imshow(distance[i], cmap="magma", interpolation="nearest", vmin=0)
    a_dist.set_title("difference from background\n(1 - cosine to corner patch)", fontsize=8)
    fig.colorbar(im, ax=a_dist, fraction=0.046)
    for a in (a_img, a_pca, a_dist):
        a.set_xticks([])
        a.set_yticks([])
fig.tight_layout();

# %% [markdown]
# ## 4 · Self-attention: which patches each patch looks at
#
# Inside each block, every patch builds a *query*, a *key* and a *value*. Patch *i* attends to patch *j*
# with weight softmax(qᵢ·kⱼ / √d), and its new feature mixes the values of the patches it attends to. This
# is how a patch on the edge of a circle learns it belongs to a circle. `Block.keep_attention = True` makes
# each block keep its attention map (`[batch, heads, 64, 64]`); below we recompute one by hand to check
# the formula, then draw, for one patch on an object, where it looks in each of the 4 blocks (averaged
# over heads).

# %%
# NBVAL_CHECK_OUTPUT
for block in vit.blocks:
    block.keep_attention = True
with torch.no_grad():
    vit(model.preprocess(images[:1]))
    # The formula by hand, for block 0: queries, keys from the normalised input of the block.
    x0 = vit.patch_embed(model.preprocess(images[:1])).flatten(2).transpose(1, 2) + vit.pos_embed
    block = vit.blocks[0]
    b, n, d = x0.shape
    q, k, _ = block.qkv(block.norm1(x0)).view(b, n, 3, block.heads, d // block.heads).permute(2, 0, 3, 1, 4)
    by_hand = (q @ k.transpose(-2, -1) / (d // block.heads) ** 0.5).softmax(-1)
attention = [blk.last_attention[0] for blk in vit.blocks]       # per block: [heads, 64, 64]
print(f"attention maps: {len(attention)} blocks x {tuple(attention[0].shape)} (heads, query patch, key patch)")
print(f"each row sums to 1: {torch.allclose(attention[0].sum(-1), torch.ones(1), atol=1e-5)}")
print(f"softmax(q k^T / sqrt(d)) by hand == block 0's map: {torch.allclose(by_hand[0], attention[0], atol=1e-5)}")
for blk in vit.blocks:
    blk.keep_attention = False


# %%
def upsample(grid_values):
    """An 8x8 patch map stretched to 64x64 pixels, for overlaying on the image."""
    return np.kron(np.asarray(grid_values), np.ones((P, P)))


# The patch that differs most from the background: surely part of an object.
pix = np.asarray(images[0]).astype(float)
background = np.median(pix.reshape(-1, 3), axis=0)
per_patch = np.abs(pix - background).sum(-1).reshape(G, P, G, P).mean(axis=(1, 3))
query_patch = int(per_patch.argmax())
qr, qc = divmod(query_patch, G)

fig, axes = plt.subplots(1, len(attention) + 1, figsize=(3.0 * (len(attention) + 1), 3.3))
axes[0].imshow(images[0], extent=(0, 64, 64, 0))
axes[0].add_patch(plt.Rectangle((qc * P, qr * P), P, P, fill=False, ec="black", lw=2))
axes[0].set_title(f"query patch {query_patch} (black box)", fontsize=9)
for i, (ax, att) in enumerate(zip(axes[1:], attention)):
    heat = att.mean(0)[query_patch].reshape(G, G).numpy()
    ax.imshow(images[0], extent=(0, 64, 64, 0))
    ax.imshow(upsample(heat), extent=(0, 64, 64, 0), cmap="viridis", alpha=0.6)
    ax.add_patch(plt.Rectangle((qc * P, qr * P), P, P, fill=False, ec="white", lw=1.5))
    ax.set_title(f"block {i}: where patch {query_patch} looks\n(max weight {heat.max():.2f})", fontsize=9)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout();

# %% [markdown]
# ## 5 · Pooling: 64 patch features → 9 image tokens
#
# Handing all 64 patch features to the language model would work, but costs 64 LLM positions per image.
# BLIP-2's **Q-Former** (used unchanged by MiniGPT-4 and SparklesChat) instead keeps a small set of
# **learned query vectors** that *cross-attend* over the patches: each query asks "what is in the image
# that I care about?", and its answer becomes one output token. However many patches come in, the same
# number of tokens comes out.
#
# `sparkles_lite.model.pooling.QueryPooling` is that idea in one attention layer. The lite world needs
# exactly 9 facts per image (size, colour, shape × left, centre, right), so it has **9 queries**. The
# Linear projection (notebook 02) then maps each 128-wide token to the LLM's 384-wide embedding space.

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    pooled = pooling(feats, keep_attention=True)                # [n, 9, 128]
    pool_attention = pooling.last_attention                     # [n, 9, 64], kept for the plots below
    llm_tokens = model.projection(pooled)                       # [n, 9, 384]
n = len(images)
print(f"patch features     {tuple(feats.shape[1:])}  per image  (64 patches x 128)")
print(f"query pooling      {tuple(pooled.shape[1:])}  per image  ({pooling.num_tokens} learned queries)")
print(f"projected to LLM   {tuple(llm_tokens.shape[1:])}  per image  (the LLM's embedding width)")
print(f"pooling attention  {tuple(pool_attention.shape[1:])}  per image  (query x patch, averaged over heads)")
with torch.no_grad():
    same = torch.allclose(model.encode_images(images), llm_tokens, atol=1e-5)
print(f"== model.encode_images(images): {same}")


# %% [markdown]
# Which patches does each query read? Below, each of the 9 small maps is one query's attention over the 64
# patches (`QueryPooling.last_attention`), laid over the image. The 9 slots are ordered size, colour,
# shape for the left, centre and right positions, so we arrange the queries as a 3×3 grid: **one row per
# query, in order 0-2, 3-5, 6-8**. Nothing forces query *i* to look at position *i // 3*: the pooling learns
# whatever arrangement helps the LLM, and the maps show what it settled on.

# %%
def query_maps(index):
    """The scene and its 9 query attention maps (3 x 3, query 0 top left)."""
    att = pool_attention[index]                                  # [9, 64]
    fig = plt.figure(figsize=(10, 6.4))
    grid = fig.add_gridspec(3, 4, width_ratios=[1.25, 1, 1, 1])
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(images[index])
    ax.set_title(world.describe(scenes[index]).replace(", ", ",\n").replace(" and ", "\nand "), fontsize=8)
    ax.axis("off")
    for qi in range(pooling.num_tokens):
        ax = fig.add_subplot(grid[qi // 3, 1 + qi % 3])
        heat = att[qi].reshape(G, G).numpy()
        ax.imshow(images[index], extent=(0, 64, 64, 0))
        ax.imshow(upsample(heat / heat.max()), extent=(0, 64, 64, 0), cmap="inferno", alpha=0.65, vmin=0, vmax=1)
        ax.set_title(f"query {qi} (max {heat.max():.2f})", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("where each of the 9 pooling queries looks (bright = high attention)", fontsize=10)
    fig.tight_layout()
    return fig


query_maps(0);

# %%
for index in range(1, min(N_SCENES, 3)):
    query_maps(index);
    plt.show()

# %% [markdown]
# ## 6 · Why a fixed number of tokens per image?
#
# Every image token occupies one position in the language model's context, and self-attention cost grows
# with the square of the sequence length. SparklesChat puts **several images in one conversation**, so the
# per-image cost matters:
#
# - EVA-CLIP ViT-g/14 on a 224×224 image gives 16×16 = 256 patches + `[CLS]` = **257 features**;
# - the Q-Former turns them into **32 tokens**, whatever the resolution: 4 images cost 4 × 32 = **128**
#   LLM positions instead of 4 × 257 = 1028, a serious share of Vicuna's 2048-token context.
#
# `PoolingConfig(kind="none")` is the alternative (LLaVA-style): every patch becomes an LLM token.

# %%
# NBVAL_CHECK_OUTPUT
no_pool = build_pooling(PoolingConfig(kind="none"), vit.out_dim, vit.grid ** 2)
with torch.no_grad():
    print(f"kind='queries': {tuple(pooling(feats).shape[1:])} per image;  "
          f"kind='none': {tuple(no_pool(feats).shape[1:])} per image")

paper = preset("paper")
paper_patches = (paper.vision.image_size // paper.vision.patch_size) ** 2 + 1   # + [CLS]
lite_patches = vit.grid ** 2
rows = [("paper: EVA-CLIP-g + Q-Former", paper_patches, paper.pooling.num_tokens, 2048),
        ("lite:  LiteViT + QueryPooling", lite_patches, pooling.num_tokens, model.config.max_length)]
print(f"\n{'LLM positions taken by images':32s} {'images':>6s} {'no pooling':>11s} {'queries':>8s}  context")
for name, per_image_none, per_image_q, context in rows:
    for n_images in (1, 2, 4):
        print(f"{name:32s} {n_images:6d} {n_images * per_image_none:11d} {n_images * per_image_q:8d}  {context}")

# %%
n_images = np.arange(1, 9)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, (name, per_none, per_q, context) in zip(axes, rows):
    ax.plot(n_images, n_images * per_none, "o-", color="#7a8ca8", label=f"every patch ({per_none}/image)")
    ax.plot(n_images, n_images * per_q, "o-", color="#e08a00", label=f"query pooling ({per_q}/image)")
    ax.axhline(context, ls="--", c="grey", lw=1)
    ax.text(1, context, f" context window: {context}", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("images in the conversation")
    ax.set_ylabel("LLM positions used by images")
    ax.set_title(name.strip(), fontsize=10)
    ax.legend(fontsize=8, loc="center right")
fig.tight_layout();

# %% [markdown]
# ## 7 · With a real CLIP or SigLIP tower
#
# The full tier swaps `LiteViT` for a real vision tower through `sparkles_lite.model.vision.HFVisionTower`:
# same interface (`preprocess`, patch features `[batch, patches, dim]`, `grid`), so everything above
# applies unchanged. It needs a checkpoint, which this offline notebook does not download: set
# `HF_VISION_PATH` in the parameters cell to a local folder, or on Colab (with network) to a hub id such as
# `google/siglip-base-patch16-224`.

# %%
if HF_VISION_PATH is None:
    print("skipped: no local checkpoint; on Colab set HF_VISION_PATH='google/siglip-base-patch16-224'")
else:
    from sparkles_lite.model.vision import HFVisionTower

    tower = HFVisionTower.from_pretrained(HF_VISION_PATH).eval()
    with torch.no_grad():
        hf_feats = tower(tower.preprocess(images))               # lite scenes, upscaled to the tower's size
    print(f"{HF_VISION_PATH}: {tower.image_size}x{tower.image_size} images, {tower.grid}x{tower.grid} patches, "
          f"features {tuple(hf_feats.shape[1:])} per image")
    flat = hf_feats.reshape(-1, hf_feats.shape[-1]).float()
    centred = flat - flat.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    pcs = centred @ v[:3].T
    pcs = (pcs - pcs.min(0).values) / (pcs.max(0).values - pcs.min(0).values)
    hf_rgb = pcs.reshape(len(images), tower.grid, tower.grid, 3).numpy()
    fig, axes = plt.subplots(2, len(images), figsize=(2.6 * len(images), 5.2), squeeze=False)
    for i in range(len(images)):
        axes[0, i].imshow(images[i])
        axes[1, i].imshow(hf_rgb[i], interpolation="nearest")
        axes[0, i].axis("off")
        axes[1, i].axis("off")
    axes[1, 0].set_title("PCA of the tower's patch features", fontsize=8, loc="left")
    fig.tight_layout();

# %% [markdown]
# ## What's next
#
# The 9 tokens per image are still in the vision encoder's space: 128 numbers that mean nothing to the
# language model. **[02 · projection](02_projection.ipynb)** looks at the one Linear layer that maps them
# into the LLM's word-embedding space, counts how few parameters that is next to the frozen parts, and
# checks whether projected image tokens land near words like *big*, *red* or *circle*.
#
# *Try it:* change `SEED` to see other scenes; pick another `query_patch` in section 4; compare the query
# maps of `SparklesChat.from_pretrained("minigpt4-lite")`.

# %% [markdown]
# ## Questions to think about
#
# 1. Why is a convolution with kernel = stride = 8 the same as one Linear layer applied to each
#    flattened 8×8 patch? What changes with stride 4?
# 2. Remove `pos_embed` in your head: which of the 9 facts per image could the pooling no longer
#    recover, and why?
# 3. Nothing forces query *i* to read position *i // 3*. What does the pooling have to get right,
#    then, for the LM to read its 9 tokens?
# 4. Four images in one conversation: how many LLM positions with 257 features per image, how many
#    with 32 tokens, and roughly how much more does self-attention over those positions cost?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
