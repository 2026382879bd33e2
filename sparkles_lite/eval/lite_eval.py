"""Lite evaluation: held-out lite tasks scored exactly against scene facts.

Used during training (progress), for the shipped models' cards, and for the comparison table.
The same sets in the real BISON/NLVR2/SparklesEval file layouts are what the paper protocols
(`sparkles_lite.eval.choice_tasks`, `sparkles_lite.eval.sparkles_eval`) run on.
"""

from __future__ import annotations

from typing import Callable

from sparkles_lite import world
from sparkles_lite.data.lite_tasks import LiteExample, LiteGenerator, balanced_examples, score_answer, text_only
from sparkles_lite.data.schema import ASSISTANT, USER, Message
from sparkles_lite.eval.stats import wilson_ci

EVAL_SEED = 2308_16463  # never used for training data
EVAL_TASKS = ("bison", "nlvr2", "dialogue", "select", "caption")
TASK_TITLES = {"bison": "BISON-lite", "nlvr2": "NLVR2-lite", "dialogue": "2-turn both right",
               "select": "select among 2-4", "caption": "exact caption"}

# A batch of (conversation ending with a user message, the example it came from) -> answers.
BatchAnswerer = Callable[[list[tuple[list[Message], LiteExample]]], list[str]]


BALANCED_TASKS = ("bison", "nlvr2", "select")  # answers balanced by construction (`balanced_examples`)


def eval_examples(task: str, n: int, seed: int = EVAL_SEED) -> list[LiteExample]:
    """The held-out set for a task: deterministic, from a seed no training run uses; choice tasks
    balanced so that always giving the same answer scores chance."""
    gen = LiteGenerator(seed + EVAL_TASKS.index(task) if task in EVAL_TASKS else seed)
    if task in BALANCED_TASKS:
        return balanced_examples(gen, task, n)
    return [gen.example(task) for _ in range(n)]


def model_answerer(model, max_new_tokens: int = 40) -> BatchAnswerer:
    """SparklesChat answers from pixels: images rendered from the scenes, in placeholder order."""
    def answer(items: list[tuple[list[Message], LiteExample]]) -> list[str]:
        convs = []
        for messages, ex in items:
            ids = [ref.image_id for m in messages for ref in m.images]
            convs.append((messages, [world.render(ex.scenes[i]) for i in ids]))
        return model.generate_batch(convs, max_new_tokens=max_new_tokens)
    return answer


def oracle_answerer(generate_text_batch: Callable[[list[list[Message]]], list[str]]) -> BatchAnswerer:
    """The LM alone, given the true scene words where images go: the ceiling a projection can reach."""
    def answer(items: list[tuple[list[Message], LiteExample]]) -> list[str]:
        return generate_text_batch([text_only(messages, ex.scenes) for messages, ex in items])
    return answer


def run_task(answerer: BatchAnswerer, examples: list[LiteExample], batch_size: int = 64) -> dict:
    """Accuracy with a Wilson 95% CI; a multi-turn example counts only if every answer is right,
    each turn answered with the model's own earlier answers in the history."""
    n_turns = len(examples[0].checks)
    histories: list[list[Message]] = [[] for _ in examples]
    correct = [True] * len(examples)
    answers: list[list[str]] = [[] for _ in examples]
    for turn in range(n_turns):
        user_msgs = [[m for m in ex.messages if m.role == USER][turn] for ex in examples]
        for h, u in zip(histories, user_msgs):
            h.append(u)
        for start in range(0, len(examples), batch_size):
            chunk = range(start, min(start + batch_size, len(examples)))
            replies = answerer([(histories[i], examples[i]) for i in chunk])
            for i, reply in zip(chunk, replies):
                answers[i].append(reply)
                histories[i].append(Message(ASSISTANT, reply))
                correct[i] = correct[i] and score_answer(examples[i].checks[turn], reply, examples[i].scenes)
    k, n = sum(correct), len(examples)
    low, high = wilson_ci(k, n)
    return {"accuracy": k / n, "ci95": [low, high], "n": n, "correct": k,
            "samples": [{"task": ex.task, "answers": a, "correct": c}
                        for ex, a, c in list(zip(examples, answers, correct))[:5]]}


def evaluate(answerer: BatchAnswerer, tasks: tuple[str, ...] = EVAL_TASKS, n: int = 400,
             seed: int = EVAL_SEED, batch_size: int = 64) -> dict[str, dict]:
    return {task: run_task(answerer, eval_examples(task, n, seed), batch_size) for task in tasks}


def format_table(rows: dict[str, dict[str, dict]], tasks: tuple[str, ...] = EVAL_TASKS) -> str:
    """Markdown table: one row per model, accuracy % with its 95% CI per task."""
    head = "| model | " + " | ".join(TASK_TITLES.get(t, t) for t in tasks) + " |"
    lines = [head, "|" + "---|" * (len(tasks) + 1)]
    for name, results in rows.items():
        cells = []
        for t in tasks:
            r = results.get(t)
            cells.append("-" if r is None else
                         f"{100 * r['accuracy']:.1f} [{100 * r['ci95'][0]:.1f}, {100 * r['ci95'][1]:.1f}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(rows: dict[str, dict[str, dict]], model: str, baseline: str,
             tasks: tuple[str, ...] = EVAL_TASKS) -> list[str]:
    """Per task, does `model` beat `baseline`? Said only when the 95% CIs do not overlap."""
    lines = []
    for t in tasks:
        a, b = rows[model][t], rows[baseline][t]
        if a["ci95"][0] > b["ci95"][1]:
            verdict = "better (95% CIs do not overlap)"
        elif a["ci95"][1] < b["ci95"][0]:
            verdict = "worse (95% CIs do not overlap)"
        else:
            verdict = "no clear difference (95% CIs overlap)"
        lines.append(f"{TASK_TITLES.get(t, t)}: {100 * a['accuracy']:.1f}% vs {100 * b['accuracy']:.1f}% -> {verdict}")
    return lines
