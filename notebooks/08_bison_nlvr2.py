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
# # 08 · BISON and NLVR2: two images, one right answer
#
# Besides the judge-scored SparklesEval (notebook 07), the paper tests two-image understanding on two
# existing benchmarks, 150 items each, with **both images in one prompt** as `IMAGE#1` and `IMAGE#2`:
#
# * **BISON** (binary image selection): a caption and two similar images; which image does the caption
#   describe? Chance is 50 %.
# * **NLVR2** (natural language visual reasoning): a statement about an image pair; true or false?
#   Chance is 50 %.
#
# The paper reports SparklesChat **56.7 %** vs MiniGPT-4 **46.0 %** on BISON and **58.0 %** vs **51.3 %**
# on NLVR2. This notebook runs the two tasks on the lite versions:
#
# 1. the two tasks, with example items and their images;
# 2. getting an answer out of free text: the pitfalls of answer extraction, and where this project's
#    reading and the official one disagree;
# 3. accuracy with 95 % confidence intervals for MiniGPT-4-lite, SparklesChat-lite and the text oracle
#    (the frozen LM reading the true scene words instead of images), on this project's strict protocol;
# 4. the paper's protocol beside it, and what the difference teaches;
# 5. a bar chart, and a few failure cases with their images.

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
SMOKE = False  # True: a handful of items per task; same lessons
SEED = 0       # seeds sampled re-asks (answers are greedy, so results do not depend on it)
N_ITEMS = 150  # items per task (the paper uses 150)

# %%
import json
import shutil
from collections import Counter
from pathlib import Path

from IPython.display import Markdown, display
from transformers.utils import logging as hf_logging

from sparkles_lite.data.schema import USER, ImageRef, Message, strip_placeholders
from sparkles_lite.eval import runs
from sparkles_lite.eval.choice_tasks import summarise
from sparkles_lite.eval.extraction import extract_bison, extract_nlvr2
from sparkles_lite.eval.model_answer import set_eval_threads
from sparkles_lite.lite import table as lite_table
from sparkles_lite.lite import world
from sparkles_lite.lite.eval import TASK_TITLES, format_constant_answers, format_per_class
from sparkles_lite.lite.files import load_scenes, write_lite_dataset
from sparkles_lite.lite.oracle import oracle_answerer
from sparkles_lite.lite.table import load_results
from sparkles_lite.lite.tasks import LiteExample, statement_kind
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.model.text_lm import generate_text_batch
from sparkles_lite.viz import charts

if SMOKE:
    N_ITEMS = min(N_ITEMS, 8)
hf_logging.disable_progress_bar()
set_eval_threads(1)  # one thread: fastest for one-by-one generation, and robust on a busy CPU
RUN = Path("runs") / "08_bison_nlvr2"
shutil.rmtree(RUN, ignore_errors=True)  # a fresh run: old answers must not be resumed into new scores
# The held-out lite sets in the real BISON / NLVR2 layouts (always all 150, so ids never change).
DATA = write_lite_dataset(RUN / "data", n_dialogues=0, n_captions=0, seed=SEED, n_eval=max(150, N_ITEMS))
scenes = load_scenes(DATA["scenes"])
lookup = runs.image_lookup(DATA["images"])
TASKS = ("bison", "nlvr2")
items = {task: runs.load_choice_items(task, DATA[task], N_ITEMS)[0] for task in TASKS}
print({task: len(v) for task, v in items.items()}, "items from", DATA["images"].parent)

# %% [markdown]
# ## 1 · The tasks
#
# In BISON-lite the distractor differs from the true image in exactly one object or attribute, so the
# whole caption must be checked, not just its first words. NLVR2-lite statements count across both
# images, compare them, or ask whether both (or exactly one) contain something: they need the two
# images *together*. The prompts give what the paper's give (both images, a step-by-step cue, and the
# sentence the answer completes), but in one line: the paper's run to several sentences, ask the model
# to start with "Let's think step by step." and to end with that sentence. `prompts.bison_prompt(caption,
# "paper")` writes them in this project's words (`eval --prompt paper`); the lite LM never saw them.

# %%
# NBVAL_CHECK_OUTPUT
for task in TASKS:
    item = items[task][0]
    print(f"--- {task.upper()} item {item.item_id} (gold: {item.gold})")
    print(item.prompt)
    for k, image_id in enumerate(item.images):
        print(f"  IMAGE#{k + 1}: {world.describe(scenes[image_id])}")


# %%
rows = []
for task in TASKS:
    item = items[task][0]
    text = item.meta.get("caption") or item.meta.get("statement")
    rows.append((f"{task.upper()}: {text} -> answer {item.gold}", [lookup(i) for i in item.images],
                 [f"IMAGE#{n}" + (" (gold)" if f"IMAGE#{n}" == item.gold else "") for n in (1, 2)]))
charts.image_rows(rows);


# %% [markdown]
# ## 2 · Getting the answer out of the reply
#
# Models answer in free text: "Image 2", "the first image", "IMAGE#1 does not match, IMAGE#2 does",
# "No, that's false". The naive rule, *the first option string found in the reply*, gets many of these
# wrong, and a wrong extraction silently becomes a wrong (or a right!) answer.
# `sparkles_lite.eval.extraction` classifies every mention by strength (a final answer beats an
# assertion, which beats a bare mention) and polarity ("not IMAGE#1"), and returns **None** (unparsable,
# counted as wrong and reported apart) when the reply is ambiguous, rather than guessing. Note the
# lite models' own quirk in the table: `IMAGE#1500?` is not IMAGE#1.

# %%
# NBVAL_CHECK_OUTPUT
def naive(reply, options):
    found = [(reply.upper().find(o), o) for o in options if o in reply.upper()]
    return min(found)[1] if found else None

BISON_REPLIES = ["The answer is IMAGE#2.", "Image 2 matches the caption.", "The first image.",
                 "IMAGE#1 does not match, IMAGE#2 does.", "IMAGE#1 fits better than IMAGE#2, so the answer is IMAGE#2.",
                 "Not IMAGE#1.", "**IMAGE#2**", "Either IMAGE#1 or IMAGE#2.",
                 "IMAGE#1 has a red circle and IMAGE#2 has a blue square.", "The answer is IMAGE#1500?"]
NLVR2_REPLIES = ["TRUE", "The statement is false.", "No, that's not right.", "That is not true.", "Yes.",
                 "It's correct: both images have a red square.", "True or false?", "The answer is TRUE1500?"]
print(f"{'reply':62s} {'naive':8s} extracted (why)")
for replies, extract, options in [(BISON_REPLIES, extract_bison, ("IMAGE#1", "IMAGE#2")),
                                  (NLVR2_REPLIES, extract_nlvr2, ("TRUE", "FALSE"))]:
    for reply in replies:
        e = extract(reply)
        print(f"{reply!r:62s} {str(naive(reply, options)):8s} {e.choice} ({e.reason})")

# %% [markdown]
# **The official reader.** The paper's `extract_answer` (in its `evaluate.py`) looks only at the text after
# the last "Therefore" and takes the option named first there. A reply without "Therefore" is unparsable
# to it, so every lite answer ("The answer is IMAGE#2.") would be. Its comments list five replies and
# what it returns for them; run on them, it disagrees with its own comments twice, and with this
# package's reading twice (`tests/test_eval_extraction.py` holds them all):
#
# | reply | its comment | the official code | this package |
# |---|---|---|---|
# | Therefore, we cannot determine if the statement is true or false | None | None | None |
# | Therefore, the statement "A man is sitting" cannot be true and is FALSE. | FALSE | None | None |
# | Therefore, the answer is TRUE for Image#2 and FALSE for Image#1. In conclusion, ... | None | None | TRUE |
# | Therefore, IMAGE#2 is not the correct match. | None | IMAGE#2 | IMAGE#1 |
# | Therefore, the answer is IMAGE#1, because it more closely matches the caption than IMAGE#2. | IMAGE#1 | IMAGE#1 | IMAGE#1 |
#
# The official code reads "not" only right before the first option, so "IMAGE#2 is not the correct
# match" becomes IMAGE#2; this package reads the negation after the option too. On the third reply the
# official None is the better reading: a per-image answer is no verdict on the pair.

# %%
# NBVAL_CHECK_OUTPUT
OFFICIAL_CASES = [(extract_nlvr2, 'Therefore, the statement "A man is sitting" cannot be true and is FALSE.'),
                  (extract_nlvr2, "Therefore, the answer is TRUE for Image#2 and FALSE for Image#1."),
                  (extract_bison, "Therefore, IMAGE#2 is not the correct match."),
                  (extract_bison, "The answer is IMAGE#2.")]
for extract, reply in OFFICIAL_CASES:
    e = extract(reply)
    print(f"{reply!r:80s} -> {e.choice} ({e.reason})")

# %% [markdown]
# ## 3 · Accuracy, with confidence intervals
#
# Each model answers every item greedily, once, and a reply that names no option counts as wrong: this
# project's `strict` protocol (`runs.run_choice`: the same runner as
# `python -m sparkles_lite eval --task bison`). With 150 items a 95 % interval is about ±8 points
# wide: differences of a few points are noise. The intervals are Wilson intervals
# (`sparkles_lite.eval.stats.wilson_ci`), sensible even near 0 % or 100 %.
#
# The **text oracle** is the frozen LM alone, given each image's true scene words where the image would
# be (`lite.oracle.oracle_answerer`): what a perfect projection could reach. The distance between a
# model and the oracle is what the projection (and its training data) fails to carry from pixels.

# %%
MODELS = {"MiniGPT-4-lite": "minigpt4-lite", "SparklesChat-lite": "sparkleschat-lite"}
results = {title: {} for title in [*MODELS, "text oracle"]}
for title, name in MODELS.items():
    model = SparklesChat.from_pretrained(name).eval()
    for task in TASKS:
        results[title][task] = runs.run_choice(task, model, RUN / f"{name}-{task}", data=DATA[task],
                                               images=DATA["images"], limit=N_ITEMS, seed=SEED, verbose=False,
                                               model_name=name)

chat = model  # the text oracle uses only the frozen LM (the same in every lite model)
oracle = oracle_answerer(lambda convs: generate_text_batch(chat.lm, chat.tokenizer, convs))
extractors = {"bison": extract_bison, "nlvr2": extract_nlvr2}
oracle_records = {}
for task in TASKS:
    batch = []
    for item in items[task]:
        messages = [Message(USER, item.prompt, [ImageRef("1"), ImageRef("2")])]
        pair = {"1": scenes[item.images[0]], "2": scenes[item.images[1]]}
        batch.append((messages, LiteExample(task, messages, pair, [])))
    replies = [r for start in range(0, len(batch), 64) for r in oracle(batch[start:start + 64])]
    records = []
    for item, reply in zip(items[task], replies):
        choice = extractors[task](reply).choice
        records.append({"id": item.item_id, "gold": item.gold, "correct": choice == item.gold, "extracted": choice,
                        "attempts": 1})
    oracle_records[task] = records
    results["text oracle"][task] = summarise(task, records)

def cell(s):
    return f"{100 * s['accuracy']:.1f} [{100 * s['ci95'][0]:.1f}, {100 * s['ci95'][1]:.1f}] ({s['unparsable']} unparsable)"

paper = lite_table.PAPER
rows = ["| model | BISON-lite acc. % [95% CI] | NLVR2-lite acc. % [95% CI] | paper BISON / NLVR2 |", "|---|---|---|---|"]
paper_cols = {"MiniGPT-4-lite": "MiniGPT-4", "SparklesChat-lite": "SparklesChat"}
for title, r in results.items():
    key = paper_cols.get(title)
    ref = f"{paper['bison'][key]} / {paper['nlvr2'][key]} ({key})" if key else "-"
    rows.append(f"| {title} | {cell(r['bison'])} | {cell(r['nlvr2'])} | {ref} |")
gold = {task: Counter(item.gold for item in items[task]) for task in TASKS}
constant = "; ".join(f"{t.upper()}-lite " + ", ".join(f"always {c} {100 * k / N_ITEMS:.1f} %" for c, k in sorted(gold[t].items()))
                     for t in TASKS)
display(Markdown(f"n = {N_ITEMS} items per task, gold answers balanced 50/50, so chance = 50 %. "
                 f"Constant answers on these items: {constant}.\n\n" + "\n".join(rows)))

# %%
charts.grouped_bars({title: [100 * r[t]["accuracy"] for t in TASKS] for title, r in results.items()},
                    [f"{t.upper()}-lite" for t in TASKS],
                    intervals={title: [(100 * r[t]["ci95"][0], 100 * r[t]["ci95"][1]) for t in TASKS]
                               for title, r in results.items()},
                    marks={title: [paper[t][paper_cols[title]] for t in TASKS] for title in results if title in paper_cols},
                    mark_label="the paper's MiniGPT-4 / SparklesChat", chance=50, ylim=(0, 105),
                    ylabel="accuracy % (95% CI)", title=f"{N_ITEMS} items per task");

# %% [markdown]
# A classic failure of two-choice prompts is **position bias**: a model that always says `IMAGE#1` (or
# always `TRUE`) scores about 50 % while understanding nothing. Compare each model's answer
# distribution with the gold one:

# %%
for title, name in MODELS.items():
    for task in TASKS:
        records = [json.loads(line) for line in (RUN / f"{name}-{task}" / "predictions.jsonl").read_text().splitlines()]
        said = Counter(r["extracted"] for r in records)
        gold = Counter(r["gold"] for r in records)
        per_class = results[title][task]["per_class"]  # summarise's tally, by gold answer
        print(f"{title:18s} {task:6s} answers {dict(sorted(said.items(), key=str))}  gold {dict(sorted(gold.items()))}"
              "  accuracy per gold answer " + ", ".join(f"{c} {100 * v['accuracy']:.0f} %" for c, v in per_class.items()))

# %% [markdown]
# The same per-class view on the larger held-out sets of the shipped results table (`results.json`,
# n = 400 per task; `lite.eval.answer_class`): accuracy on the items whose gold answer is each option,
# and for *select* on the items whose answer is the first, second, ... image. A model with a lean
# scores high on one class and low on the other; the image-blind majority answer shows the extreme.

# %%
shipped = load_results()
for task in ("bison", "nlvr2", "select"):
    display(Markdown(f"**{TASK_TITLES[task]}**, accuracy % per gold answer\n\n" + format_per_class(shipped["rows"], task)))
print(format_constant_answers(shipped["constant_answers"]))

# %% [markdown]
# NLVR2-lite statements come in four kinds (`lite.tasks.statement_kind` tells them apart by wording):
# counting one shape across both images, whether *both* images have a thing, whether IMAGE#1 has more
# objects, and whether *exactly one* image has a colour. Each needs a different cross-image skill, so
# the accuracy per kind says which skill a model lacks. (About 37 items per kind at n = 150: read the
# differences coarsely.) TRUE and FALSE are equally likely within each kind, so a model that answers
# from the statement's wording alone, without looking, scores about 50 % on every kind.

# %%
kind_of = {item.item_id: statement_kind(item.meta["statement"]) for item in items["nlvr2"]}
per_model = {title: [json.loads(line) for line in (RUN / f"{name}-nlvr2" / "predictions.jsonl").read_text().splitlines()]
             for title, name in MODELS.items()}
per_model["text oracle"] = oracle_records["nlvr2"]
rows = ["| statement kind | n | " + " | ".join(per_model) + " |", "|---|---|" + "---|" * len(per_model)]
for kind in sorted(set(kind_of.values())):
    ids = {i for i, k in kind_of.items() if k == kind}
    accs = [sum(r["correct"] for r in recs if r["id"] in ids) / len(ids) for recs in per_model.values()]
    rows.append(f"| {kind} | {len(ids)} | " + " | ".join(f"{100 * a:.0f}%" for a in accs) + " |")
display(Markdown("NLVR2-lite accuracy by statement kind\n\n" + "\n".join(rows)))

# %% [markdown]
# ## 4 · The paper's protocol
#
# The paper evaluates differently: its chat **samples** every answer (temperature 1.0, top_p 0.9), and
# its evaluation **asks again** until `extract_answer` finds an option, with no limit. `--protocol paper`
# does the same, capped by `--max-attempts`, and records every attempt. Below, both models on both tasks
# under the two protocols (the first `N_PAPER` items: sampling and re-asking cost time), then
# SparklesChat-lite on prompts it never saw in training: the paper's several-sentence prompts.

# %%
MAX_ATTEMPTS = 3
N_PAPER, N_LONG = min(N_ITEMS, 60), min(N_ITEMS, 20)
paper_runs = {title: {task: runs.run_choice(task, name, RUN / f"{name}-{task}-paper", data=DATA[task],
                                            images=DATA["images"], limit=N_PAPER, protocol="paper",
                                            max_attempts=MAX_ATTEMPTS, seed=SEED, verbose=False)
                      for task in TASKS} for title, name in MODELS.items()}
long_prompt = {protocol: runs.run_choice("bison", "sparkleschat-lite", RUN / f"long-prompt-{protocol}",
                                         data=DATA["bison"], images=DATA["images"], limit=N_LONG,
                                         protocol=protocol, max_attempts=MAX_ATTEMPTS, prompt_style="paper",
                                         seed=SEED, verbose=False)
               for protocol in ("strict", "paper")}


def strict_on_first(name, task, n):
    """The strict run's summary over the same first n items the paper-protocol run answered."""
    records = [json.loads(line) for line in (RUN / f"{name}-{task}" / "predictions.jsonl").read_text().splitlines()]
    return {**summarise(task, records[:n]), "prompt_style": "lite"}


def row(title, task, s):
    return (f"| {title} | {task.upper()}-lite | {s['prompt_style']} | {s['protocol']} | {s['n']} | "
            f"{100 * s['accuracy']:.1f} | {s['unparsable']} | {s['mean_attempts']:.2f} |")


rows = ["| model | task | prompt | protocol | n | accuracy % | unparsable | asks per item |",
        "|---|---|---|---|---|---|---|---|"]
for title, name in MODELS.items():
    for task in TASKS:
        rows.append(row(title, task, strict_on_first(name, task, N_PAPER)))
        rows.append(row(title, task, paper_runs[title][task]))
for protocol, s in long_prompt.items():
    rows.append(row("SparklesChat-lite", "bison", s))
display(Markdown("\n".join(rows)))
print("a long-prompt reply:", json.loads((RUN / "long-prompt-paper" / "predictions.jsonl").read_text().splitlines()[0])["response"])

# %% [markdown]
# What the difference teaches. On the prompts they were trained for, the lite models always name an
# option, so the paper's re-asking never fires and only sampling changes anything: a few answers flip,
# well inside the intervals. The protocols part ways where replies stop parsing. On the paper's long
# prompts SparklesChat-lite mostly writes something that names no option: the strict protocol counts
# each as wrong, the paper's asks again and again and keeps the first reply that parses. Asked without
# a limit, that reports the accuracy of the answers it could read, however many asks it took, and says
# nothing of how often the model failed to answer at all. A number from the paper's protocol needs its
# attempts beside it; a number from the strict one already includes the failures.

# %% [markdown]
# ## 5 · Failure cases
#
# Below, a few items SparklesChat-lite got wrong (or could not be parsed), with both images, the
# model's reply and the true contents of each image (from `scenes.json`, the ground truth written with
# the data). Reading failures is how you find out whether the model cannot *see* an attribute, cannot
# *compare* two images, or answers without looking.

# %%
failures = []
for task in TASKS:
    records = [json.loads(line) for line in (RUN / f"sparkleschat-lite-{task}" / "predictions.jsonl").read_text().splitlines()]
    by_id = {item.item_id: item for item in items[task]}
    failures += [(task, by_id[r["id"]], r) for r in records if not r["correct"]][:2]
if not failures:
    print("SparklesChat-lite answered every item correctly.")
else:
    rows = []
    for task, item, r in failures:
        text = item.meta.get("caption") or item.meta.get("statement")
        print(f"{task.upper()} item {item.item_id}: {text}")
        print(f"  reply {r['response']!r} -> {r['extracted']} ({r['reason']}); gold {r['gold']}")
        for k, image_id in enumerate(item.images):
            print(f"  IMAGE#{k + 1} truly holds: {', '.join(t.phrase() for t in scenes[image_id].things)}")
        rows.append((f"{task.upper()} item {item.item_id}: {text} (reply {r['extracted']}, gold {r['gold']})",
                     [lookup(i) for i in item.images], ["IMAGE#1", "IMAGE#2"]))
    charts.image_rows(rows);

# %% [markdown]
# ## Running the real benchmarks
#
# The files above are in the real layouts, so the same command runs the real BISON and NLVR2 sets (and
# any checkpoint):
#
# ```bash
# python -m sparkles_lite eval --model sparkleschat-lite --task bison --out runs/bison        # lite sets, generated
# python -m sparkles_lite eval --model MODEL_DIR --task nlvr2 --protocol paper --prompt paper --out runs/nlvr2 \
#     --data Sparkles/evaluation/NLVR2/annotations/sparkles_evaluation_nlvr2_annotations.json
# ```
#
# With the official layout (`annotations/` beside `images/`) no `--images` is needed; a BISON image is the
# file its `image_filename` names, an NLVR2 pair `<identifier minus its last part>-img0.png` and `-img1.png`,
# as in the official code. Each run writes `predictions.jsonl` (resumable, every attempt kept),
# `summary.json` (accuracy, Wilson CI, unparsable replies, asks per item) and `report.html`.
#
# **Exercise.** Make a BISON-lite variant where the distractor differs only in *size*
# (`world.Thing(size=...)`), write it with `io.save_bison`, and run both models on it. Is size harder
# than colour for the lite vision tower?

# %% [markdown]
# ## Questions to think about
#
# 1. A model that always answers IMAGE#1: what does it score on BISON-lite, and why are the sets
#    balanced by construction, not just overall?
# 2. Why does the extractor return None for an ambiguous reply instead of taking the first option
#    mentioned?
# 3. With 150 items a 95 % interval is about ±8 points. About how many items would you need for ±3?
# 4. The paper's protocol samples and re-asks until the reply parses; the strict one answers
#    greedily and counts None as wrong. Which favours a confused model, and why?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
