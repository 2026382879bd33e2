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
# # 05 · Fine-tuning: stage 1 (MiniGPT-4) and stage 2 (SparklesChat)
#
# The lesson the whole curriculum exists for: **freeze a vision encoder and a language model, train only
# the projection between them on multi-image dialogues, and the model learns to reason across images.**
#
# You will
# 1. see exactly which parameters train (a few hundred thousand) and which stay frozen (millions);
# 2. write **stage 1** as a training loop of a dozen lines (single-image captions, MiniGPT-4's recipe), and
#    check it against the package's `finetune` step by step;
# 3. train stage 1 further and **stage 2** live with `finetune`: SparklesDialogue-lite, 2-turn dialogues
#    over 2-4 images;
# 4. compare the answers to the same multi-image question after each stage;
# 5. measure what stage 2 costs: **forgetting** of the stage-1 skill (exact captions);
# 6. load the **shipped, fully trained** checkpoints and compare them on held-out images, with a text
#    oracle (the LM reading the true scene words) as the ceiling a projection can reach.
#
# A frozen LM can only lend the reasoning it already has: the lite LM was pretrained on the lite tasks
# *as text* (`python -m sparkles_lite pretrain --part lm`) before any projection was trained.

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
SMOKE = False           # True: a few steps only, to check the notebook runs
SEED = 0
MINUTES_STAGE1 = 1.0    # live training time on this machine, per stage
MINUTES_STAGE2 = 2.0
N_TRAIN = 3000          # generated training examples per stage
EVAL_N = 100            # held-out 'select' questions for before/after accuracy
LOOP_STEPS = 40         # steps of the hand-written stage-1 loop (and of the package run it is checked against)
N_CAPTIONS = 100        # held-out captions for the forgetting measurement

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from transformers.utils import logging as hf_logging

from sparkles_lite.lite import world
from sparkles_lite.lite.eval import TASK_TITLES, format_constant_answers, format_table
from sparkles_lite.lite.table import load_results
from sparkles_lite.lite.tasks import LiteGenerator
from sparkles_lite.lite.training import train_lite
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.train.common import set_threads
from sparkles_lite.train.finetune import finetune_args
from sparkles_lite.viz import charts

hf_logging.disable_progress_bar()  # no "Loading weights" bars in the outputs
set_threads()
torch.manual_seed(SEED)
MAX_STEPS = 6 if SMOKE else 100_000          # time decides unless SMOKE
N_VAL = 128
if SMOKE:
    N_TRAIN, EVAL_N, N_VAL, LOOP_STEPS, N_CAPTIONS = 64, 8, 16, 2, 8  # 2 steps = the 64 examples once

# %% [markdown]
# ## 1 · What trains and what stays frozen
#
# `SparklesChat.from_pretrained("lite")` loads the shipped, pretrained lite vision tower and LM and puts
# a **fresh** pooling + projection between them, exactly where stage 1 starts.

# %%
# NBVAL_CHECK_OUTPUT
fresh = SparklesChat.from_pretrained("lite")
counts = fresh.parameter_counts()
for part in ("vision", "pooling", "projection", "lm"):
    status = "trains" if part in ("pooling", "projection") else "frozen"
    print(f"{part:>10}: {counts[part]:>10,} parameters  ({status})")
print(f"{'trainable':>10}: {counts['trainable']:>10,} = {100 * counts['trainable'] / sum(counts[p] for p in ('vision', 'pooling', 'projection', 'lm')):.1f}% of the model")

# %% [markdown]
# ## 2 · One multi-image question to follow through training
#
# A held-out question over several images (two to four; this one's are drawn below) whose answer needs all
# of them.

# %%
example = LiteGenerator(20240 + SEED).single("more")
images = [world.render(example.scenes[i]) for i in example.image_ids]
question = example.messages[0]
charts.image_rows([("", images, [f"IMAGE#{i}" for i in example.image_ids])])
plt.show()
print("Q:", question.content.replace("<Img><ImageHere></Img>", ""))
print("truth:", example.messages[1].content)

def ask(model):
    return model.eval().generate([question], images, max_new_tokens=30).text

print("before any training:", ask(fresh))

# %% [markdown]
# ## 3 · Stage 1 by hand: the training loop
#
# Stage 1 is MiniGPT-4's recipe: prompt `<Img><ImageHere></Img> Describe this image.`, answer the scene's
# description. Here is the whole of it as a loop you can read. Four ideas carry it:
#
# - **frozen towers**: the vision tower and the LM never change, so each image's patch features are
#   computed once, before training (`FeatureCache`), and the loop only runs the part that trains;
# - **the trainable tensors**: the pooling queries and the projection, nothing else, handed to AdamW;
# - **the masked loss**: `SparklesChat.loss` is the cross-entropy of the answer's tokens only; the prompt,
#   the image positions and the padding have no label, so the model is never trained to predict them;
# - **a schedule**: the learning rate warms up, then follows a cosine down to 10%; gradients are clipped
#   to norm 1.
#
# First the data and the model: a fresh projection between the shipped towers.

# %%
from sparkles_lite.lite.training import TRAIN_SEEDS, lite_items
from sparkles_lite.model.assembly import IGNORE, collate
from sparkles_lite.train import common
from sparkles_lite.train.finetune import FeatureCache, assemble_items

BATCH, LR = 32, 2e-3
model = SparklesChat.from_pretrained("lite").train()   # the towers are frozen by the constructor
trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
for name, p in trainable.items():
    print(f"trains: {name:32s} {tuple(p.shape)}")
print(f"frozen: {sum(not p.requires_grad for p in model.parameters())} tensors "
      f"({sum(p.numel() for p in model.parameters() if not p.requires_grad):,} numbers) in the vision tower and the LM")

items, load = lite_items(stage=1, n=N_TRAIN, seed=TRAIN_SEEDS[1] + SEED)    # captions of generated scenes
assembled, keys, _ = assemble_items(model, items)  # token positions and image keys (notebook 03)
features = FeatureCache(model, [k for ks in keys for k in ks], load, quiet=True)  # the vision tower, once per image

first = assembled[0]
print("\nan example:", model.tokenizer.decode([t for t, i in zip(first.input_ids, first.image_index) if i < 0]))
print("the loss is computed on:", repr(model.tokenizer.decode([t for t in first.labels if t != IGNORE])))

# %% [markdown]
# The loop. Each step: a batch of similar-length examples, the learning rate for this point of the schedule,
# the image tokens from the cached features (pooling and projection: where the gradients go), the masked
# loss, backward, clip, step.

# %%
opt = torch.optim.AdamW(trainable.values(), lr=LR, weight_decay=0.0)
batches = common.length_grouped_batches([len(a) for a in assembled], BATCH, common.shuffle_rng(SEED))
losses = []
for step, batch_ids in enumerate(batches[:LOOP_STEPS]):
    lr = common.cosine_lr(step / LOOP_STEPS, LR)
    for group in opt.param_groups:
        group["lr"] = lr
    batch = collate([assembled[i] for i in batch_ids], model.pad_id)
    with model.precision.autocast():      # bf16 or fp16 where the hardware has it, else plain fp32
        image_tokens = model.image_tokens(features([k for i in batch_ids for k in keys[i]]))
        loss = model.loss(batch, image_tokens)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable.values(), 1.0)
    opt.step()
    losses.append(loss.item())
    if step % 10 == 0 or step == LOOP_STEPS - 1:
        print(f"step {step + 1:3d}   loss {loss.item():.4f}   learning rate {lr:.1e}")

# %% [markdown]
# Is this really what the package does? `finetune` adds what a long run needs (a time budget, held-out
# measurements, checkpoints, throughput logs, gradient accumulation, several processes), but its step is
# the same. Run it for the same steps, on the same seed and data, logging every step, and compare the
# losses and the weights it saves. Both run on the CPU, where the same operations give the same numbers.

# %%
check = train_lite(finetune_args(stage=1, out="runs/nb05/loop_check", init="lite", max_steps=LOOP_STEPS,
                                 minutes=None, n_train=N_TRAIN, batch_size=BATCH, lr=LR, eval_n=0, n_val=16,
                                 seed=SEED, device="cpu", log_every=1, checkpoint_every=0, quiet=True,
                                 log_lines=False, resume=False))
package_losses = [row["loss"] for row in check["history"]]
loss_gap = max(abs(a - b) for a, b in zip(losses, package_losses))
saved = SparklesChat.from_pretrained("runs/nb05/loop_check").trainable_state_dict()
weight_gap = max((saved[name] - p.detach()).abs().max().item() for name, p in trainable.items())
print(f"{len(package_losses)} steps each; largest loss difference {loss_gap:.1e} (the package logs 4 decimals), "
      f"largest weight difference {weight_gap:.1e}")
assert len(package_losses) == len(losses) and loss_gap < 1e-4 and weight_gap < 1e-5

steps = range(1, len(losses) + 1)
charts.loss_curves({"stage 1: the hand-written loop and the package agree": {
    "the loop above": (steps, losses), "finetune, same seed": (steps, package_losses)}});

# %% [markdown]
# ## 4 · Stage 1 for longer, with `finetune`
#
# The same loop, now for `MINUTES_STAGE1` minutes. `finetune` prints the held-out loss (on captions no step
# trains on) and the accuracy on held-out *select* questions ("Which image has a red circle: IMAGE#1, ...?")
# before and after. Watch the loss: captions are easy. Select is a multi-image task stage 1 never trains on.

# %%
stage1 = train_lite(finetune_args(stage=1, out="runs/nb05/stage1", init="lite", minutes=MINUTES_STAGE1,
                                  max_steps=MAX_STEPS, n_train=N_TRAIN, batch_size=BATCH, lr=LR,
                                  eval_n=EVAL_N, n_val=N_VAL, seed=SEED, quiet=True, log_lines=False, resume=False, log_every=5))
print(f"{stage1['steps']} steps in {stage1['minutes']:.1f} min; held-out loss "
      f"{stage1['before']['heldout_loss']:.3f} -> {stage1['after']['heldout_loss']:.3f}")
print("after stage 1:", ask(SparklesChat.from_pretrained("runs/nb05/stage1")))

# %% [markdown]
# ## 5 · Stage 2: multi-image dialogues (SparklesChat)
#
# Same trainable parameters, different data: 2-turn dialogues over 2-4 images where turn 2 adds images
# and refers back to turn 1, plus questions over 2-4 images. BISON- and NLVR2-style prompts never appear:
# they are held out for evaluation (notebook 08).

# %%
stage2 = train_lite(finetune_args(stage=2, out="runs/nb05/stage2", init="runs/nb05/stage1",
                                  minutes=MINUTES_STAGE2, max_steps=MAX_STEPS, n_train=N_TRAIN, batch_size=BATCH,
                                  lr=LR, eval_n=EVAL_N, n_val=N_VAL, seed=SEED, quiet=True, log_lines=False,
                                  resume=False, log_every=5))
for name, r in (("stage 1", stage1), ("stage 2", stage2)):
    print(f"{name}: select accuracy {100 * r['before']['select_accuracy']:.0f}% -> "
          f"{100 * r['after']['select_accuracy']:.0f}% (n={EVAL_N})")
print("after stage 2:", ask(SparklesChat.from_pretrained("runs/nb05/stage2")))

# %%
charts.loss_curves({name: {name: ([row["step"] for row in r["history"]], [row["loss"] for row in r["history"]])}
                    for name, r in (("stage 1: captions", stage1), ("stage 2: dialogues", stage2))})
plt.show()
last = stage2["history"][-1] if stage2["history"] else None
if last:
    print(f"stage 2, last logged steps: {last['ms_per_step']:.0f} ms per step, {last['samples_per_s']:.0f} "
          f"examples/s, {last['tokens_per_s']:,} tokens/s, MFU {100 * last['mfu']:.1f}%")

# %% [markdown]
# **MFU** (model FLOPs utilisation) is the share of the hardware's peak arithmetic rate that training
# actually uses: the FLOPs the step needs per second divided by what the chip could do; tiny models, whose
# matrices are too small to keep the hardware busy, get a few percent.
#
# ## 6 · What stage 2 costs: forgetting
#
# Stage 2 teaches multi-image skills with the same few trainable tensors that stage 1 taught to caption,
# and its data holds almost no captions (5% "What is in IMAGE#k?" questions, in other words). Nothing in its
# loss asks the projection to keep what made captions exact, so the weights move away from it: the stage-1
# skill is partly **forgotten** (in the literature: catastrophic forgetting). Measure it: the same held-out
# captions, scored exactly (every object's size, colour and shape), before and after stage 2, for the models
# trained above and for the shipped ones.

# %%
from sparkles_lite.lite.eval import eval_examples, model_answerer, run_task  # noqa: E402

captions = eval_examples("caption", N_CAPTIONS)   # the same held-out images for every model
pairs = {"trained above (stage 1, then stage 2 from it)": ("runs/nb05/stage1", "runs/nb05/stage2"),
         "shipped (MiniGPT-4-lite, SparklesChat-lite)": ("minigpt4-lite", "sparkleschat-lite")}
rows = ["| models | exact caption after stage 1 | after stage 2 | change |", "|---|---|---|---|"]
for label, names in pairs.items():
    b, a = (run_task(model_answerer(SparklesChat.from_pretrained(n).eval()), captions) for n in names)
    rows.append(f"| {label} | {100 * b['accuracy']:.0f}% [{100 * b['ci95'][0]:.0f}, {100 * b['ci95'][1]:.0f}] "
                f"| {100 * a['accuracy']:.0f}% [{100 * a['ci95'][0]:.0f}, {100 * a['ci95'][1]:.0f}] "
                f"| {100 * (a['accuracy'] - b['accuracy']):+.0f} points |")
display(Markdown("\n".join(rows) + f"\n\n{len(captions)} held-out captions, 95% Wilson intervals. The few "
                 "minutes above train far less than the shipped models: where their stage 1 has not learned "
                 "exact captions yet there is little to forget, and the shipped row is the measurement."))

# %% [markdown]
# What the forgotten captions look like: the first held-out images on which the shipped models disagree.

# %%
asked = [(ex.messages[:1], ex) for ex in captions[:12]]
said = {n: model_answerer(SparklesChat.from_pretrained(n).eval())(asked) for n in ("minigpt4-lite", "sparkleschat-lite")}
for ex, before, after in zip(captions, said["minigpt4-lite"], said["sparkleschat-lite"]):
    if before != after:
        print(f"truth:         {ex.messages[1].content}\nafter stage 1: {before}\nafter stage 2: {after}\n")

# %% [markdown]
# Most such errors are of one kind: an object takes the shape (or colour) of another object in the scene.
# Stage 2 rewarded tokens that let the LM *compare and pick* images, and the exact binding of each object's
# attributes, which only captions needed, loosened. It is the data, not the amount of training: the
# *control* model in the table below trained as many extra steps as stage 2, on captions, and its exact
# captions do not suffer (see its row). The usual remedy is to mix some stage-1 captions back into stage 2
# (rehearsal), at some cost in stage-2 steps.
#
# ## 7 · The shipped checkpoints: the paper's finding at lite scale
#
# A few CPU minutes only start the story. The shipped models were trained longer (their model cards in
# `sparkles_lite/assets/lite/*/MODEL_CARD.md` give the commands, steps, hardware and wall time):
#
# - **MiniGPT-4-lite**: stage 1 only;
# - **control**: stage 1 plus as many more *caption* samples as stage 2 saw (is it just more training?);
# - **SparklesChat-lite**: stage 1 + stage 2;
# - **text oracle**: the frozen LM reading the true scene words: the ceiling for any projection.
#
# All evaluated on held-out images (n per task, 95% Wilson intervals).

# %%
results = load_results()
display(Markdown(format_table(results["rows"])
                 + f"\n\nAccuracy %, [95% Wilson interval]; n = {results['n']} per task, measured on {results['device']}. "
                 "The last row never looks at an image: per question kind it always gives the most common answer. "
                 + format_constant_answers(results["constant_answers"]).replace("\n", "; ") + "."))

# %% [markdown]
# Does stage 2 beat stage 1? Only where the intervals do not overlap do we say so; the verdicts below
# are computed from the table, so they stay honest when the weights change.

# %%
from sparkles_lite.lite.eval import verdicts

for baseline in ("MiniGPT-4-lite (stage 1)", "control (stage 1 + matched caption steps)"):
    print(f"SparklesChat-lite vs {baseline}:")
    for line in verdicts(results["rows"], "SparklesChat-lite (stage 2)", baseline):
        print("   ", line)

# %%
rows, tasks = results["rows"], results["tasks"]
charts.grouped_bars({name: [100 * r[t]["accuracy"] for t in tasks] for name, r in rows.items()},
                    [TASK_TITLES[t] for t in tasks],
                    intervals={name: [(100 * r[t]["ci95"][0], 100 * r[t]["ci95"][1]) for t in tasks]
                               for name, r in rows.items()},
                    ylabel="accuracy % (95% CI)", ylim=(0, 105),
                    title=f"held-out lite tasks, n = {results['n']} each");

# %% [markdown]
# ## 8 · Train it fully yourself
#
# `tools/build_lite_assets.sh` retrains every lite weight from scratch (vision tower, LM, stage 1, stage 2,
# control, then this table) in about ten minutes on one GPU; the backbones resume from their checkpoints if
# interrupted, the projection stages start over. It **overwrites** the shipped weights in
# `sparkles_lite/assets/lite/` and their `results.json`, so run it in a second clone of the repository.
# Its recipe is short: the shipped weights had longer runs after it (each model card lists its whole chain),
# so expect numbers near the table above, not the same ones.
#
# ```bash
# bash tools/build_lite_assets.sh   # in a second clone: writes sparkles_lite/assets/lite/ and the table
# ```
#
# On a CPU, train the projections only (the backbones ship with the package). `--max-steps 100000` lets
# `--minutes` decide when to stop (the default stops at 1,500 steps):
#
# ```bash
# python -m sparkles_lite train --stage 1 --out runs/s1 --minutes 20 --max-steps 100000
# python -m sparkles_lite train --stage 2 --init runs/s1 --out runs/s2 --minutes 60 --max-steps 100000
# python -m sparkles_lite eval --model runs/s2 --task bison --out runs/eval-bison
# ```
#
# With real models and data (notebook 10): `python -m sparkles_lite train --preset smol --stage 2
# --data sparkles_dialogue.json --images DIR --out runs/smol`.

# %% [markdown]
# ## Questions to think about
#
# 1. The loop computes the vision features once, before training. What would change (cost, memory,
#    risk) if the vision tower trained too?
# 2. The hand-written loop and `finetune` give the same losses to 4 decimals and the same weights.
#    Name three changes that would make them differ slightly, and why.
# 3. Stage 2 lowers exact-caption accuracy. Propose two ways to keep the captions, and how you would
#    measure which works.
# 4. Why is the *control* model (stage 1 plus as many extra caption steps as stage 2) needed before
#    saying that multi-image data caused stage 2's gains?
# 5. MFU is a few percent here. Would a larger batch raise it, and what limits it on a tiny model?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
