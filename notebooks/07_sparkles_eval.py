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
# # 07 · SparklesEval: answers scored by a judge
#
# BISON and NLVR2 (notebook 08) ask one question with one right option. A *conversation* about several
# images has no single right string, so the paper built **SparklesEval**: 150 two-turn dialogues, each
# over 2 to 4 images, where the model answers question 1, then question 2 with its own first answer in
# the history. A text-only **judge** (GPT-4 in the paper) reads the images' captions, the questions
# and the model's two answers (the paper's judge gets **no reference answers**), and scores each answer
# from 1 to 10 on three criteria:
#
# * **C1** image understanding and reasoning,
# * **C2** cross-image and cross-turn coherence,
# * **C3** relevance and completeness.
#
# A1 and A2 are the means over the criteria for each answer; the overall score is the mean of A1 and A2.
# The paper reports SparklesChat **8.56**, MiniGPT-4 **3.91** and GPT-4 itself (answering from captions)
# **9.26** out of 10.
#
# Two judge prompts are available (`--judge-protocol`), both in this project's words. `paper` gives the
# judge what the paper's judge gets, and asks for the paper's reply format. `reference`, the default and
# **this project's addition**, also gives the reference answers the data holds and asks for one
# machine-readable line per score: a judge that can compare with a good answer is steadier, and the
# offline lite judge can then check an answer's conclusion, not only its facts. Either reply format is
# read as the official parser reads it.
#
# This notebook:
#
# 1. prints the rubric and one judge prompt (this project's) exactly as the judge receives it;
# 2. starts the **offline lite judge** (a local OpenAI-compatible server that knows every lite scene
#    fact) and talks to it with the `openai` client, the same code path a GPT judge uses;
# 3. scores MiniGPT-4-lite, SparklesChat-lite and the text oracle on SparklesEval-lite, beside the
#    paper's numbers;
# 4. judges the same answers again with the paper's prompt;
# 5. shows the HTML report of a run;
# 6. estimates what a real judge would cost, and shows how to point the evaluation at GPT-4o or a
#    vLLM server.

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
SMOKE = False  # True: a handful of dialogues instead of 150; same lessons
SEED = 0       # seeds sampled re-asks (answers are greedy, so results do not depend on it)
N_ITEMS = 150  # SparklesEval-lite dialogues to score (the paper's SparklesEval has 150)

# %%
import html
import json
import shutil
from pathlib import Path

from IPython.display import Markdown, display
from openai import OpenAI
from transformers.utils import logging as hf_logging

from sparkles_lite.data.schema import strip_placeholders
from sparkles_lite.eval import runs
from sparkles_lite.eval.judge import (CRITERIA, JUDGE_SETTINGS, SCORE_KEYS, SYSTEM_PROMPT, Judge, JudgeInput,
                                      build_judge_prompt)
from sparkles_lite.eval.model_answer import set_eval_threads
from sparkles_lite.eval.report import render_sparkles_report, report_run
from sparkles_lite.eval.sparkles_eval import estimate_judge_cost, rejudge, run_sparkles_eval, split_turns, summarise
from sparkles_lite.lite import table as lite_table
from sparkles_lite.lite.files import write_lite_dataset
from sparkles_lite.lite.judge_server import MODEL_ID, start_judge_server
from sparkles_lite.lite.oracle import answer_fn_for
from sparkles_lite.viz import charts

if SMOKE:
    N_ITEMS = min(N_ITEMS, 6)
hf_logging.disable_progress_bar()  # no "Loading weights" bars in the outputs
set_eval_threads(1)  # one thread: fastest for one-by-one generation, and robust on a busy CPU
RUN = Path("runs") / "07_sparkles_eval"
shutil.rmtree(RUN, ignore_errors=True)  # a fresh run: old answers must not be resumed into new scores
# The held-out lite evaluation sets, in the real file layouts (always all 150, so ids never change).
DATA = write_lite_dataset(RUN / "data", n_dialogues=0, n_captions=0, seed=SEED, n_eval=max(150, N_ITEMS))
dialogues = runs.load_eval_dialogues(DATA["sparkles_eval"], N_ITEMS)
lookup = runs.image_lookup(DATA["images"])
print(f"{len(dialogues)} SparklesEval-lite dialogues from {DATA['sparkles_eval']}")

# %% [markdown]
# ## 1 · The rubric and the judge prompt
#
# The judge never sees pixels: each image is given by its caption (`IMAGE#id: caption`). In the lite
# world a caption is the complete list of objects, so a judge *can* check every claim; with real photos
# the captions are partial, which is one reason a judge's scores are noisy. The prompt asks for six
# machine-readable lines, `A<answer> C<criterion> Rating: [[n]] <why>`; a reply that breaks the format is
# retried and, if still unreadable, counted as a failure, never as a score.

# %%
# NBVAL_CHECK_OUTPUT
for c, text in CRITERIA.items():
    print(f"{c}: {text}")
print("\nscore keys:", ", ".join(SCORE_KEYS))

# %%
# NBVAL_CHECK_OUTPUT
# One judge prompt, with the reference answers standing in for a model's answers.
d = dialogues[0]
users, refs = split_turns(d)
example = JudgeInput(images=[(r.image_id, r.caption) for r in d.images],
                     questions=[strip_placeholders(u.content) for u in users],
                     answers=list(refs), references=list(refs))
prompt = build_judge_prompt(example)
print("SYSTEM:", SYSTEM_PROMPT)
print("USER:")
print(prompt)

# %% [markdown]
# ## 2 · A judge on this machine, behind the OpenAI API
#
# `start_judge_server()` serves the offline lite judge (`sparkles_lite.lite.judge`) on a
# loopback port, speaking the OpenAI chat-completions protocol. It reads the prompt above (nothing
# else), checks each stated fact against the captions, and replies in the judge format. Because it
# sits behind the same API, the evaluation code below is exactly what would run against GPT-4o: only
# the base URL, the model name and the key change.

# %%
server, base_url = start_judge_server()  # port 0: any free port; loopback only
client = OpenAI(base_url=base_url, api_key="not-needed-for-the-lite-judge")
print("judge server:", base_url, "| models:", [m.id for m in client.models.list().data])


# %%
# NBVAL_CHECK_OUTPUT
def ask_judge(judge_input):
    reply = client.chat.completions.create(
        model=MODEL_ID, temperature=0,
        messages=[{"role": "system", "content": SYSTEM_PROMPT},
                  {"role": "user", "content": build_judge_prompt(judge_input)}])
    return reply.choices[0].message.content

print("The reference answers, judged:")
print(ask_judge(example))
wrong_a2 = refs[1].replace("IMAGE#", "IMAGE#9") if "IMAGE#" in refs[1] else "They have nothing in common."
print("\nThe same, with a second answer that names an image that does not exist:", repr(wrong_a2))
print(ask_judge(JudgeInput(example.images, example.questions, [refs[0], wrong_a2], list(refs))))

# %% [markdown]
# ## 3 · SparklesEval-lite: MiniGPT-4-lite vs SparklesChat-lite vs the text oracle
#
# **MiniGPT-4-lite** trained its projection on single-image captions only (stage 1); **SparklesChat-lite**
# continued on multi-image, two-turn dialogues (stage 2). Both share the same frozen vision tower and
# LM. The **text oracle** is that frozen LM alone, reading each image's true scene words where the image
# goes: no pixels, no projection. It plays the part of GPT-4 in the paper's table (a strong model that
# answers from text it is given) and is the ceiling a projection can reach. `run_sparkles_eval` asks question 1, appends the model's own answer, asks question 2 with every
# image shown so far, and sends the dialogue to the judge through `judge.Judge` (the `openai` client with
# a disk cache and bounded retries). Each dialogue is logged as it finishes, so an interrupted run
# resumes. (The paper's numbers are for 7B-parameter models on real photographs; compare the *gap*
# between the two models, not the values.)

# %%
MODELS = {"MiniGPT-4-lite": "minigpt4-lite", "SparklesChat-lite": "sparkleschat-lite", "text oracle": "text-oracle"}
PAPER = lite_table.PAPER["sparkles-eval"]  # {"SparklesChat": 8.56, "MiniGPT-4": 3.91, "GPT-4": 9.26}
judge = Judge(model=MODEL_ID, cache_dir=RUN / "judge_cache", base_url=base_url)
summaries = {}
for title, name in MODELS.items():
    # a model answers from pixels; the oracle from the true scenes in scenes.json beside the data
    answer = answer_fn_for(name, DATA["sparkles_eval"], max_new_tokens=64, seed=SEED)
    out = RUN / name
    summaries[title] = run_sparkles_eval(dialogues, answer, judge, out, image_lookup=lookup)
    report_run(out, lookup)  # out/report.html
    print(f"{title}: overall {summaries[title]['overall']:.2f} on {summaries[title]['n_judged']} judged dialogues "
          f"({summaries[title]['n_failed']} failed)")


# %%
def ci(s, key):
    low, high = s["ci95"].get(key, [s[key], s[key]])
    return f"{s[key]:.2f} [{low:.2f}, {high:.2f}]"

paper_of = {"MiniGPT-4-lite": "MiniGPT-4", "SparklesChat-lite": "SparklesChat", "text oracle": "GPT-4"}
rows = ["| model | A1 | A2 | overall [95% CI] | C1 | C2 | C3 | paper (overall) |", "|---|---|---|---|---|---|---|---|"]
for title, s in summaries.items():
    c = s["criteria"]
    rows.append(f"| {title} | {s['A1']:.2f} | {s['A2']:.2f} | {ci(s, 'overall')} | {c['C1']:.2f} | {c['C2']:.2f} | "
                f"{c['C3']:.2f} | {PAPER[paper_of[title]]:.2f} ({paper_of[title]}) |")
display(Markdown(f"SparklesEval-lite, n = {len(dialogues)} dialogues, offline lite judge\n\n" + "\n".join(rows)))

# %%
keys = ["C1", "C2", "C3", "A1", "A2", "overall"]
scores = {title: [s["criteria"][key] if key.startswith("C") else s[key] for key in keys] for title, s in summaries.items()}
charts.grouped_bars(scores, keys,
                    intervals={title: [s["ci95"].get(key) for key in keys]
                               for title, s in summaries.items()},
                    marks={title: [None] * (len(keys) - 1) + [PAPER[paper_of[title]]] for title in summaries},
                    mark_label="the paper's overall score (GPT-4 for the oracle)", ylim=(0, 10.5),
                    ylabel="judge score (1-10)", title=f"SparklesEval-lite, {len(dialogues)} dialogues");

# %% [markdown]
# ## 4 · The same answers, judged as the paper judges
#
# The paper's judge is given less than the one above: the captions, the two questions and the model's
# two answers, no reference answers, and it is asked for the paper's reply format (`* Evaluating A1`,
# `- (C1) Explanation: "..." Rating: [[9]]`, ..., `Therefore, the overall rating of A1 is [[9]]`), at
# temperature 1.0. `sparkles_eval.rejudge` sends the answers logged above to the offline judge again
# with that prompt (`--judge-protocol paper` on the command line); its reply is read as the official
# parser reads it: an answer's score is the mean of its three criteria, the stated overall rating is
# kept but not used, as in the paper.

# %%
paper_judge = Judge(model=MODEL_ID, cache_dir=RUN / "judge_cache_paper", base_url=base_url,
                    **JUDGE_SETTINGS["paper"])
paper_summaries, paper_records = {}, {}
for title, name in MODELS.items():
    logged = [json.loads(line) for line in (RUN / name / "results.jsonl").read_text().splitlines()]
    paper_records[title] = rejudge(logged, paper_judge, "paper")
    paper_summaries[title] = summarise(paper_records[title])
rows = ["| model | this project's prompt, with references | the paper's prompt, no references |", "|---|---|---|"]
for title in MODELS:
    rows.append(f"| {title} | {ci(summaries[title], 'overall')} | {ci(paper_summaries[title], 'overall')} |")
display(Markdown(f"SparklesEval-lite overall [95% CI], the same answers judged twice (n = {len(dialogues)})\n\n"
                 + "\n".join(rows)))
print("The offline judge's reply to the paper's prompt, SparklesChat-lite's first dialogue:\n")
print(paper_records["SparklesChat-lite"][0]["judgments"][0]["reply"])

# %% [markdown]
# Without references the judge can check only what an answer *states* against the captions. An answer
# that names the right image without describing it, or says two images have nothing in common, states
# no fact to check, and scores lower than with a reference to agree with; a fact-rich answer scores about
# the same. Compare the models' order under each prompt, not the values: that order is what the paper's
# table reports, and a prompt that changes it would make the two tables disagree.

# %% [markdown]
# ## 5 · Reading a run: the HTML report
#
# Scores alone hide *why*. Every run writes `report.html`: per dialogue, the images (hover an
# `IMAGE#id` to see it), the questions, the model's answers, the reference answers and the judge's six
# scores with its one-line reasons. All model and judge text is HTML-escaped, so a reply containing
# markup shows as text. Below: the first three dialogues of SparklesChat-lite's run, embedded; the
# full reports are files you can open in a browser.

# %%
records = [json.loads(line) for line in (RUN / "sparkleschat-lite" / "results.jsonl").read_text().splitlines()]
preview = render_sparkles_report(records[:3], RUN / "preview.html", image_lookup=lookup,
                                 title="SparklesEval-lite: SparklesChat-lite, first 3 dialogues")
display({"text/html": f'<iframe srcdoc="{html.escape(preview.read_text())}" '
                      'style="width:100%;height:480px;border:1px solid #ccc"></iframe>'}, raw=True)
for name in MODELS.values():
    print("full report:", RUN / name / "report.html")

# %%
# The same record as plain text (GitHub does not render the embedded page).
r = records[0]
for t in range(2):
    print(f"Q{t + 1}: {r['questions'][t]}\n  model: {r['answers'][t]}\n  reference: {r['references'][t]}")
j = r["judgments"][0]
for key in SCORE_KEYS:
    print(f"  {key}: {j['scores'][key]:4g}  {j['explanations'][key]}")

# %% [markdown]
# ## 6 · What a real judge would cost
#
# The judge prompt is most of the cost: roughly (characters / 4) tokens per dialogue, plus ~150 reply
# tokens, times the number of repeats (judging each dialogue k times measures the judge's own variance).
# Cached judgments are free: a re-run pays only for dialogues whose answers changed. The estimate
# below uses the reference answers in place of the model's (the prompts differ only there) and one
# price per token; list prices change, so pass your own with `--price-per-1k`. Prices used here:
# GPT-4 at its 2023 list price ($0.03 per 1k prompt tokens; replies cost twice that, so this is a lower
# bound) and GPT-4o at $0.0025 per 1k input tokens (replies cost 4x that).

# %%
# A Judge for an external API: built here only to count tokens; nothing is sent.
gpt = Judge(model="gpt-4o", cache_dir=RUN / "gpt4o_cache", base_url="https://api.openai.com/v1",
            api_key="sk-placeholder-never-sent")
all_150 = runs.load_eval_dialogues(DATA["sparkles_eval"], 150)
for label, price in [("GPT-4, $0.03/1k tokens", 0.03), ("GPT-4o, $0.0025/1k tokens", 0.0025)]:
    for n, repeats in dict.fromkeys([(len(dialogues), 1), (150, 1), (150, 3)]):  # each size once
        est = estimate_judge_cost(all_150[:n], gpt, repeats=repeats, price_per_1k_tokens=price)
        print(f"{label:28s} {n:3d} dialogues x {repeats} repeat(s): {est}")

# %% [markdown]
# ## 7 · Pointing it at a real judge
#
# Nothing in the runner is specific to the lite judge: change the base URL, the model name and the key.
# From the command line (a judge that is not on this machine prints its cost estimate and stops until
# you add `--yes`):
#
# ```bash
# export OPENAI_API_KEY=sk-...
# python -m sparkles_lite eval --model sparkleschat-lite --task sparkles-eval --out runs/se-gpt4o \
#     --judge-base-url https://api.openai.com/v1 --judge-model gpt-4o --price-per-1k 0.0025        # estimate only
# python -m sparkles_lite eval --model sparkleschat-lite --task sparkles-eval --out runs/se-gpt4o \
#     --judge-base-url https://api.openai.com/v1 --judge-model gpt-4o --price-per-1k 0.0025 --yes  # run it
#
# # an open model served by vLLM on this machine (loopback: free, no --yes needed; any key works)
# vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000
# OPENAI_API_KEY=EMPTY python -m sparkles_lite eval --model sparkleschat-lite --task sparkles-eval \
#     --out runs/se-qwen --judge-base-url http://127.0.0.1:8000/v1 --judge-model Qwen/Qwen2.5-7B-Instruct
# ```
#
# In Python it is the same `Judge` as above:
# `Judge(model="gpt-4o", cache_dir="runs/judge_cache", base_url="https://api.openai.com/v1", api_key=...)`
# passed to `run_sparkles_eval`. For real SparklesEval data add `--data sparkles_eval.json --images DIR`.
# Judges disagree with each other and with themselves: keep `temperature=0`, report the judge model with
# the scores, use `--repeats 3` to see the spread, and read the report before trusting a number.
#
# **Exercise.** Ask the lite judge (with `ask_judge`) about an A2 that is correct but names the images
# in the wrong turn, or one that is right about IMAGE#2 but pads the answer with a false claim. Which
# criterion moves? Would a GPT judge agree?

# %%
server.close()  # stop the local judge

# %% [markdown]
# ## Questions to think about
#
# 1. The judge reads captions, never pixels. What can such a judge miss with real photographs, and
#    why does the lite world not have that problem?
# 2. A judge reply that cannot be parsed is counted as a failure, not as a score. What would scoring
#    it as 0 (or 5) do to the comparison?
# 3. What does the gap between SparklesChat-lite and the text oracle measure?
# 4. Why judge each dialogue several times (`--repeats 3`), and what does the spread tell you that
#    one run cannot?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
