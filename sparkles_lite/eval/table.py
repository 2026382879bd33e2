"""The lite results table: MiniGPT-4-lite vs the control vs SparklesChat-lite vs the text oracle.

`python -m sparkles_lite.eval.table --n 400 --out results.json` evaluates the shipped models on
held-out lite images (n per task) with 95% CIs; the demo and notebooks print the saved table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from sparkles_lite import assets
from sparkles_lite.assets import TEXT_ORACLE
from sparkles_lite.eval.lite_eval import (EVAL_TASKS, MAJORITY_ROW, baselines, evaluate, format_constant_answers,
                                         format_table, model_answerer, oracle_answerer)
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.model.text_lm import generate_text_batch
from sparkles_lite.device import pick_device

MODEL_ROWS = {"MiniGPT-4-lite (stage 1)": "minigpt4-lite",
              "control (stage 1 + matched caption steps)": "control-lite",
              "SparklesChat-lite (stage 2)": "sparkleschat-lite"}
ORACLE_ROW = "text oracle (LM reads true scene words)"
RESULTS_FILE = assets.ASSETS / "results.json"


JUDGE_PROTOCOLS = {"reference": "sparkles_eval", "paper": "sparkles_eval_paper"}  # protocol -> results key


def build_table(n: int = 400, device: str = "auto", batch_size: int = 128,
                models: dict[str, str] | None = None, sparkles_eval_n: int | None = 150) -> dict:
    """Exact-scored lite tasks for every model, the text oracle and the image-blind baselines
    (`lite_eval.baselines`); SparklesEval-lite (offline judge over loopback, the same client path as GPT)
    for the models unless `sparkles_eval_n` is None, judged with both prompts: 'reference' (this
    project's, with reference answers) and 'paper' (captions, questions and answers only)."""
    from sparkles_lite.eval.cli import run_sparkles

    dev = pick_device(device)
    rows, started = {}, time.time()
    judged: dict[str, dict] = {key: {} for key in JUDGE_PROTOCOLS.values()}
    oracle_lm = None

    def judge(title: str, model) -> None:
        for protocol, key in JUDGE_PROTOCOLS.items():
            with tempfile.TemporaryDirectory() as tmp:
                summary = run_sparkles(model, tmp, limit=sparkles_eval_n, verbose=False, judge_protocol=protocol)
            judged[key][title] = {k: summary.get(k) for k in ("A1", "A2", "overall", "ci95", "criteria",
                                                             "n_judged", "n_failed", "judge_protocol")}
        print(f"{title}: SparklesEval-lite {judged['sparkles_eval'][title]['overall']:.2f} (reference prompt), "
              f"{judged['sparkles_eval_paper'][title]['overall']:.2f} (paper prompt)", flush=True)

    for title, name in (models or MODEL_ROWS).items():
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
