"""Lite evaluation: held-out lite tasks scored exactly against scene facts.

Used during training (progress), for the shipped models' cards, and for the comparison table.
The same sets in the real BISON/NLVR2/SparklesEval file layouts (`sparkles_lite.lite.files`) are
what the paper protocols (`sparkles_lite.eval.choice_tasks`, `sparkles_lite.eval.sparkles_eval`) run on.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable

from sparkles_lite.data.schema import ASSISTANT, IMAGE_MENTION, USER, Message
from sparkles_lite.eval import prompts
from sparkles_lite.eval.stats import accuracy_by_class, wilson_ci
from sparkles_lite.lite import world
from sparkles_lite.lite.tasks import LiteExample, LiteGenerator, balanced_examples, score_answer

# Held-out seeds: task k of EVAL_TASKS draws its set from EVAL_SEED + k, a seed no training run uses.
EVAL_SEED = 2308_16463
EVAL_TASKS = ("bison", "nlvr2", "dialogue", "select", "caption")
TASK_TITLES = {"bison": "BISON-lite", "nlvr2": "NLVR2-lite", "dialogue": "2-turn both right",
               "select": "select among 2-4", "caption": "exact caption"}

# A batch of (conversation ending with a user message, the example it came from) -> answers.
BatchAnswerer = Callable[[list[tuple[list[Message], LiteExample]]], list[str]]


BALANCED_TASKS = ("bison", "nlvr2", "select")  # answers balanced by construction (`balanced_examples`)


def eval_seed(task: str, base: int = EVAL_SEED) -> int:
    """The held-out seed of an evaluation task (`base` + its index in EVAL_TASKS; `base` for any other)."""
    return base + EVAL_TASKS.index(task) if task in EVAL_TASKS else base


def eval_examples(task: str, n: int, seed: int = EVAL_SEED) -> list[LiteExample]:
    """The held-out set for a task: deterministic, from a seed no training run uses; choice tasks
    balanced so that always giving the same answer scores chance."""
    gen = LiteGenerator(eval_seed(task, seed))
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


def answer_class(ex: LiteExample) -> str:
    """The class of an example's last gold answer, for per-class accuracy: the option of a choice task
    ('IMAGE#1', 'TRUE'), the answer image's position for an image answer ('image 2'), the last question's kind
    in a dialogue ('turn 2: common'), otherwise the task. A model that leans towards one class shows up here."""
    check = ex.checks[-1]
    if len(ex.checks) > 1:
        return f"turn {len(ex.checks)}: {question_kinds(ex)[-1]}"
    if check["kind"] == "choice":
        return check["choice"]
    if check["kind"] == "image":
        return f"image {ex.image_ids.index(check['id']) + 1}"
    return question_kinds(ex)[-1]


def question_kinds(ex: LiteExample) -> list[str]:
    """The kind of each user turn: 'dialogue:count+select' -> ['count', 'select']; 'bison' -> ['bison']."""
    return ex.task.split(":", 1)[1].split("+") if ex.task.startswith("dialogue:") else [ex.task]


def run_task(answerer: BatchAnswerer, examples: list[LiteExample], batch_size: int = 64) -> dict:
    """Accuracy with a Wilson 95% CI, overall and per answer class (`answer_class`); a multi-turn
    example counts only if every answer is right, each turn answered with the model's own earlier
    answers in the history."""
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
            "per_class": accuracy_by_class([answer_class(ex) for ex in examples], correct),
            "samples": [{"task": ex.task, "answers": a, "correct": c}
                        for ex, a, c in list(zip(examples, answers, correct))[:5]]}


def evaluate(answerer: BatchAnswerer, tasks: tuple[str, ...] = EVAL_TASKS, n: int = 400,
             seed: int = EVAL_SEED, batch_size: int = 64) -> dict[str, dict]:
    return {task: run_task(answerer, eval_examples(task, n, seed), batch_size) for task in tasks}


# ---------------------------------------------------------------- baselines that never look at an image

def _by_position(answer: str, ids: list[str]) -> str:
    """'IMAGE#x7 has ...' -> 'IMAGE#{0} has ...' when x7 is the first image: answers comparable across
    examples whose images have different ids."""
    return IMAGE_MENTION.sub(lambda m: "IMAGE#{%d}" % ids.index(m.group(1)) if m.group(1) in ids
                             else m.group(0), answer)


def _answer_at(template: str, ids: list[str]) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: ids[min(int(m.group(1)), len(ids) - 1)], template)


def majority_answerer(examples: list[LiteExample]) -> BatchAnswerer:
    """For each question kind, always the gold answer most common among `examples` (image ids taken by
    position; a which-image answer reduced to its image, 'IMAGE#{0}.', so the class is the position):
    the best any answerer blind to the images and to the question's details can do on this set. On a
    balanced choice task it is the best constant answer, 50%."""
    counts: dict[str, Counter] = {}
    for ex in examples:
        gold = [m.content for m in ex.messages if m.role == ASSISTANT]
        for kind, answer, check in zip(question_kinds(ex), gold, ex.checks):
            if check["kind"] == "image":
                answer = f"IMAGE#{check['id']}."
            counts.setdefault(kind, Counter())[_by_position(answer, ex.image_ids)] += 1
    majority = {kind: c.most_common(1)[0][0] for kind, c in counts.items()}

    def answer(items: list[tuple[list[Message], LiteExample]]) -> list[str]:
        out = []
        for messages, ex in items:
            turn = sum(m.role == USER for m in messages) - 1
            out.append(_answer_at(majority[question_kinds(ex)[turn]], ex.image_ids))
        return out
    return answer


def constant_answerers(task: str) -> dict[str, BatchAnswerer]:
    """For a choice task, one answerer per constant answer: each option of BISON-lite and NLVR2-lite,
    the first and the last image for select."""
    def always(make: Callable[[LiteExample], str]) -> BatchAnswerer:
        return lambda items: [make(ex) for _, ex in items]
    if task == "bison":
        return {f"always {c}": always(lambda ex, c=c: prompts.choice_answer(c)) for c in prompts.BISON_CHOICES}
    if task == "nlvr2":
        return {f"always {c}": always(lambda ex, c=c: prompts.choice_answer(c)) for c in prompts.NLVR2_CHOICES}
    if task == "select":
        return {"always the first image": always(lambda ex: f"IMAGE#{ex.image_ids[0]}."),
                "always the last image": always(lambda ex: f"IMAGE#{ex.image_ids[-1]}.")}
    return {}


MAJORITY_ROW = "majority answer (per question kind, no image)"


def baselines(n: int = 400, seed: int = EVAL_SEED, tasks: tuple[str, ...] = EVAL_TASKS) -> dict:
    """{'majority': row of `evaluate`'s shape, 'constant': {task: {label: accuracy}}} on the eval sets."""
    majority, constant = {}, {}
    for task in tasks:
        examples = eval_examples(task, n, seed)
        majority[task] = run_task(majority_answerer(examples), examples)
        constant[task] = {label: run_task(a, examples)["accuracy"] for label, a in constant_answerers(task).items()}
    return {"majority": majority, "constant": {t: c for t, c in constant.items() if c}}


def format_constant_answers(constant: dict[str, dict[str, float]]) -> str:
    """One line per choice task: what answering the same thing every time scores."""
    return "\n".join(f"constant answers, {TASK_TITLES.get(t, t)}: "
                     + ", ".join(f"{label} {100 * acc:.1f}%" for label, acc in c.items())
                     for t, c in constant.items())


def format_per_class(rows: dict[str, dict[str, dict]], task: str) -> str:
    """Markdown: per model, accuracy on each answer class of `task` (`answer_class`), n per class."""
    classes = sorted({c for r in rows.values() if task in r for c in r[task].get("per_class", {})})
    if not classes:
        return f"(no per-class results for {task})"
    any_row = next(r[task] for r in rows.values() if task in r and r[task].get("per_class"))
    head = "| model | " + " | ".join(f"{c} (n={any_row['per_class'].get(c, {}).get('n', 0)})" for c in classes) + " |"
    lines = [head, "|" + "---|" * (len(classes) + 1)]
    for name, r in rows.items():
        pc = r.get(task, {}).get("per_class", {})
        lines.append(f"| {name} | " + " | ".join(f"{100 * pc[c]['accuracy']:.1f}" if c in pc else "-"
                                                  for c in classes) + " |")
    return "\n".join(lines)


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
