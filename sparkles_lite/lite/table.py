"""The lite results table: MiniGPT-4-lite vs the control vs SparklesChat-lite vs the text oracle,
and the paper's numbers beside them.

`python -m sparkles_lite.lite.table --n 400 --out results.json` evaluates the shipped models on
held-out lite images (n per task) with 95% CIs, and SparklesEval-lite through the offline judge;
`python -m sparkles_lite eval --task lite-table`, the demo and the notebooks print the saved table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sparkles_lite import assets
from sparkles_lite.device import pick_device
from sparkles_lite.eval import runs
from sparkles_lite.lite.eval import (EVAL_TASKS, MAJORITY_ROW, baselines, evaluate, format_constant_answers,
                                     format_table, model_answerer)
from sparkles_lite.lite.files import N_HELD_OUT, eval_data
from sparkles_lite.lite.judge_server import offline_judge
from sparkles_lite.lite.oracle import TEXT_ORACLE, answer_fn_for, oracle_answerer
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.model.text_lm import generate_text_batch

RESULTS_FILE = assets.ASSETS / "results.json"

# The paper's numbers (arXiv:2308.16463): BISON / NLVR2 accuracy (%), SparklesEval score out of 10.
PAPER = {
    "bison": {"SparklesChat": 56.7, "MiniGPT-4": 46.0},
    "nlvr2": {"SparklesChat": 58.0, "MiniGPT-4": 51.3},
    "sparkles-eval": {"SparklesChat": 8.56, "MiniGPT-4": 3.91, "GPT-4": 9.26},
}
TITLES = {"bison": "BISON (acc. %)", "nlvr2": "NLVR2 (acc. %)", "sparkles-eval": "SparklesEval (score /10)"}


@dataclass(frozen=True)
class LiteModel:
    """A model of the lite tables: its name (shipped, or `text-oracle`), its row title, and the paper's
    model it stands for beside the paper's numbers (None: no counterpart)."""

    name: str
    title: str
    paper: str | None


LITE_MODELS = (
    LiteModel("minigpt4-lite", "MiniGPT-4-lite (stage 1)", "MiniGPT-4"),
    LiteModel("control-lite", "control (stage 1 + matched caption steps)", None),
    LiteModel("sparkleschat-lite", "SparklesChat-lite (stage 2)", "SparklesChat"),
    # The lite counterpart of the paper's GPT-4 row: the frozen LM reading the true scene words.
    LiteModel(TEXT_ORACLE, "text oracle (LM reads true scene words)", "GPT-4"),
)
ORACLE_ROW = LITE_MODELS[-1].title
MAJORITY = "majority"  # the image-blind majority answer's column beside the paper (`lite.eval.MAJORITY_ROW`)


def sparkles_eval_lite(model, out: str | Path, n: int, judge_protocol: str = "reference") -> dict:
    """SparklesEval-lite for a model (or `text-oracle`): the first n held-out dialogues, the offline
    judge with `judge_protocol`'s prompt."""
    data, images = eval_data("sparkles-eval", Path(out), None, None, max(n, N_HELD_OUT))
    return runs.run_sparkles(model, out, offline_judge(out, judge_protocol), data=data, images=images, limit=n,
                             verbose=False, judge_protocol=judge_protocol, answer_for=answer_fn_for)


JUDGE_PROTOCOLS = {"reference": "sparkles_eval", "paper": "sparkles_eval_paper"}  # protocol -> results key


def build_table(n: int = 400, device: str = "auto", batch_size: int = 128,
                models: dict[str, str] | None = None, sparkles_eval_n: int | None = 150) -> dict:
    """Exact-scored lite tasks for every model ({row title: name}; default: the shipped ones), the text
    oracle and the image-blind baselines (`lite.eval.baselines`); SparklesEval-lite (offline judge over
    loopback, the same client path as GPT) for each unless `sparkles_eval_n` is None, judged with both
    prompts: 'reference' (this project's, with reference answers) and 'paper' (captions, questions and
    answers only)."""
    models = models or {m.title: m.name for m in LITE_MODELS if m.name != TEXT_ORACLE}
    dev = pick_device(device)
    rows, started = {}, time.time()
    judged: dict[str, dict] = {key: {} for key in JUDGE_PROTOCOLS.values()}
    oracle_lm = None

    def judge(title: str, model) -> None:
        for protocol, key in JUDGE_PROTOCOLS.items():
            with tempfile.TemporaryDirectory() as tmp:
                summary = sparkles_eval_lite(model, tmp, sparkles_eval_n, protocol)
            judged[key][title] = {k: summary.get(k) for k in ("A1", "A2", "overall", "ci95", "criteria",
                                                             "n_judged", "n_failed", "judge_protocol")}
        print(f"{title}: SparklesEval-lite {judged['sparkles_eval'][title]['overall']:.2f} (reference prompt), "
              f"{judged['sparkles_eval_paper'][title]['overall']:.2f} (paper prompt)", flush=True)

    for title, name in models.items():
        model = SparklesChat.from_pretrained(name).to(dev).eval()
        rows[title] = evaluate(model_answerer(model), n=n, batch_size=batch_size)
        oracle_lm = model
        print(f"{title}: { {t: round(r['accuracy'], 3) for t, r in rows[title].items()} }", flush=True)
        if sparkles_eval_n:
            judge(title, model)
    lm, tok = oracle_lm.lm, oracle_lm.tokenizer
    rows[ORACLE_ROW] = evaluate(oracle_answerer(lambda convs: generate_text_batch(lm, tok, convs)), n=n,
                                batch_size=batch_size)
    if sparkles_eval_n:  # the shipped lite LM, which every shipped model shares, reading scenes.json
        judge(ORACLE_ROW, TEXT_ORACLE)
    blind = baselines(n)
    rows[MAJORITY_ROW] = blind["majority"]
    out = {"n": n, "tasks": list(EVAL_TASKS), "rows": rows, "constant_answers": blind["constant"],
           "minutes": round((time.time() - started) / 60, 2),
           "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"}
    return out | (judged if sparkles_eval_n else {})


def format_sparkles_eval(results: dict) -> str:
    """Markdown: SparklesEval-lite scores (1-10, offline judge) per model under both judge prompts."""
    reference, paper = (results.get(key) or {} for key in JUDGE_PROTOCOLS.values())
    lines = ["SparklesEval-lite (1-10, offline judge): this project's judge prompt with reference answers, "
             "and the paper's (captions, questions and answers only):", "",
             "| model | reference prompt: A1 | A2 | overall | paper prompt: A1 | A2 | overall | n judged |",
             "|---|---|---|---|---|---|---|---|"]
    for title in reference or paper:
        cells = []
        for s in (reference.get(title), paper.get(title)):
            cells += ["-"] * 3 if s is None else [f"{s[k]:.2f}" for k in ("A1", "A2", "overall")]
        n_judged = (reference.get(title) or paper.get(title))["n_judged"]
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {n_judged} |")
    return "\n".join(lines)


def load_results(path: str | Path = RESULTS_FILE) -> dict:
    return json.loads(Path(path).read_text())


# ---------------------------------------------------------------- beside the paper

def _fmt(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def lite_numbers(results: dict | None, summaries: list[dict] = ()) -> dict[str, dict[str, float | None]]:
    """{task: {paper's model: its lite counterpart's value}}: BISON/NLVR2 accuracy (%) from the saved
    lite table, SparklesEval overall from the saved table or from sparkles-eval run summaries."""
    paired = [m for m in LITE_MODELS if m.paper]
    out: dict[str, dict[str, float | None]] = {t: {m.paper: None for m in paired} | {MAJORITY: None} for t in PAPER}
    majority = ((results or {}).get("rows") or {}).get(MAJORITY_ROW) or {}
    for task in ("bison", "nlvr2"):
        if majority.get(task):
            out[task][MAJORITY] = 100 * majority[task]["accuracy"]
    for m in paired:
        saved = ((results or {}).get("rows") or {}).get(m.title) or {}
        for task in ("bison", "nlvr2"):
            if saved.get(task):
                out[task][m.paper] = 100 * saved[task]["accuracy"]
        judged = ((results or {}).get("sparkles_eval") or {}).get(m.title) or {}
        if judged.get("overall") is not None:
            out["sparkles-eval"][m.paper] = judged["overall"]
    for s in summaries:
        for m in paired:
            if s.get("task") == "sparkles-eval" and s.get("model") == m.name and s.get("overall") is not None:
                out["sparkles-eval"][m.paper] = s["overall"]
            elif s.get("task") in ("bison", "nlvr2") and s.get("model") == m.name and out[s["task"]][m.paper] is None:
                out[s["task"]][m.paper] = 100 * s["accuracy"]
    return out


def paper_comparison(lite: dict[str, dict[str, float | None]]) -> str:
    """Markdown: the paper's numbers beside the lite models'. Same shape, not the same scale; the
    majority column (the image-blind majority answer on the lite sets) is the floor a lite score beats."""
    lines = ["| benchmark | SparklesChat (paper) | MiniGPT-4 (paper) | GPT-4 (paper) | "
             "SparklesChat-lite | MiniGPT-4-lite | text oracle (lite) | majority (lite) |",
             "|---|---|---|---|---|---|---|---|"]
    for task, paper in PAPER.items():
        d = 2 if task == "sparkles-eval" else 1
        lines.append(f"| {TITLES[task]} | {_fmt(paper['SparklesChat'], d)} | {_fmt(paper['MiniGPT-4'], d)} | "
                     f"{_fmt(paper.get('GPT-4'), d)} | {_fmt(lite[task]['SparklesChat'], d)} | "
                     f"{_fmt(lite[task]['MiniGPT-4'], d)} | {_fmt(lite[task]['GPT-4'], d)} | "
                     f"{_fmt(lite[task].get(MAJORITY), d)} |")
    return "\n".join(lines)


def print_lite_table(results_path: str | Path | None = None, runs_dir: str | Path | None = None) -> int:
    """Print the saved lite table and the paper beside it (lite SparklesEval also from run summaries
    under `runs_dir`); 1 when there is no saved table."""
    path = Path(results_path or RESULTS_FILE)
    results = load_results(path) if path.exists() else None
    if results is None:
        print(f"no saved lite table at {path}; build it with `python -m sparkles_lite.lite.table --n 400`")
    else:
        print(f"Lite table: exact scoring on held-out lite sets (n={results.get('n')} per task, 95% CIs), "
              f"from {path}\n")
        print(format_table(results["rows"], tuple(results.get("tasks") or ())))
        if results.get("constant_answers"):
            print(format_constant_answers(results["constant_answers"]))
        if results.get("sparkles_eval"):
            print("\n" + format_sparkles_eval(results))
    summaries = runs.find_summaries(runs_dir)
    print("\nThe paper beside the lite models (lite SparklesEval: the offline judge with this project's "
          f"reference-based prompt, or runs found under {runs_dir if runs_dir else '--out'}):\n")
    print(paper_comparison(lite_numbers(results, summaries)))
    return 0 if results is not None else 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--out", default=str(RESULTS_FILE))
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    results = build_table(args.n, args.device, args.batch_size)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(format_table(results["rows"]))
    print(format_constant_answers(results["constant_answers"]))
    print(format_sparkles_eval(results))


if __name__ == "__main__":
    main()
