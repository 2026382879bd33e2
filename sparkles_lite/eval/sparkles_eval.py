"""SparklesEval: the model answers two questions in one conversation, a judge scores both.

The model answers Q1, then Q2 with its own A1 in the history (not the reference), with every
image it has been shown so far, as the paper's evaluation does; the judge (`judge.Judge`: GPT, or the
offline lite judge behind `lite.judge_server`) scores A1 and A2 on C1-C3, with the paper's prompt (no
reference answers) or this project's (references given; the default). Results are logged per dialogue
as they come, a killed run resumes, and a failed judgment counts in `n_failed`, never as a score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from sparkles_lite.data.schema import ASSISTANT, USER, Dialogue, Message, insert_placeholders, strip_placeholders
from sparkles_lite.eval.judge import (ANSWERS, CRITERIA, JUDGE_PROTOCOLS, SCORE_KEYS, CostEstimate, Judge,
                                      JudgeInput, build_judge_prompt)
from sparkles_lite.eval.protocols import SUMMARY, AnswerFn, JsonlLog, call_answer, write_json
from sparkles_lite.eval.stats import mean_ci

RESULTS = "results.jsonl"


def dialogue_id(dialogue: Dialogue, index: int) -> str:
    """`meta['id']` when the data gives one, else the position in the evaluation set."""
    return str(dialogue.meta.get("id", dialogue.meta.get("dialogue_id", index)))


def split_turns(dialogue: Dialogue) -> tuple[list[Message], list[str | None]]:
    """The 2 user messages (with placeholders ensured) and the reference answers (None if absent)."""
    users = [m for m in dialogue.messages if m.role == USER]
    if len(users) != 2:
        raise ValueError(f"SparklesEval dialogues have 2 user turns, got {len(users)}")
    refs: list[str | None] = []
    for k, m in enumerate(dialogue.messages):
        if m.role == USER:
            nxt = dialogue.messages[k + 1] if k + 1 < len(dialogue.messages) else None
            refs.append(nxt.content if nxt is not None and nxt.role == ASSISTANT else None)
    users = [Message(USER, insert_placeholders(m.content, [r.image_id for r in m.images]), m.images) for m in users]
    return users, refs


def judge_prompt_for(dialogue: Dialogue, users: list[Message], answers: list[str], refs: list[str | None],
                     protocol: str) -> str:
    """The judge prompt for one dialogue: the references go in only under this project's protocol."""
    give_refs = protocol == "reference" and all(r is not None for r in refs)
    return build_judge_prompt(JudgeInput([(r.image_id, r.caption) for r in dialogue.images],
                                         [strip_placeholders(u.content) for u in users], answers,
                                         [str(r) for r in refs] if give_refs else None), protocol)


def estimate_judge_cost(dialogues: Iterable[Dialogue], judge: Judge, *, repeats: int = 1,
                        price_per_1k_tokens: float = 0.03, protocol: str = "reference") -> CostEstimate:
    """Judge cost before a run, with the reference answers standing in for the model's (the
    prompts differ only there); requests already cached are free and counted apart."""
    prompts = []
    for d in dialogues:
        users, refs = split_turns(d)
        prompts.append(judge_prompt_for(d, users, [r or "" for r in refs], refs, protocol))
    return judge.estimate_cost(prompts, repeats=repeats, price_per_1k_tokens=price_per_1k_tokens)


def run_sparkles_eval(dialogues: Iterable[Dialogue], answer_fn: AnswerFn, judge: Judge, out_dir: str | Path, *,
                      image_lookup: Callable[[str], Image.Image], repeats: int = 1, protocol: str = "reference",
                      progress: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Answer, judge and log each dialogue to out_dir/results.jsonl (skipping ones already judged);
    write and return out_dir/summary.json. A dialogue whose judgment failed (the judge was down) is
    not done: a rerun judges the answers it logged again. `repeats` > 1 judges each dialogue k times
    (cached separately) to measure judge variance; `protocol` is the judge prompt ('reference' or
    'paper', see `judge`)."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    if protocol not in JUDGE_PROTOCOLS:
        raise ValueError(f"unknown judge protocol {protocol!r}; expected one of {JUDGE_PROTOCOLS}")
    dialogues = list(dialogues)
    ids = [dialogue_id(d, k) for k, d in enumerate(dialogues)]
    if len(set(ids)) != len(ids):
        raise ValueError("dialogue ids must be unique for resuming; set meta['id']")
    out_dir = Path(out_dir)
    log = JsonlLog(out_dir / RESULTS, final=lambda record: not record["failed"])
    other = {r.get("judge_protocol", "reference") for r in log.records()} - {protocol}
    if other:
        raise ValueError(f"{out_dir / RESULTS} holds results judged with the {', '.join(sorted(other))} protocol; "
                         f"use another --out for --judge-protocol {protocol}")
    for k, (did, dialogue) in enumerate(zip(ids, dialogues)):
        if did in log:
            continue
        failed = log.done.get(did)  # answered, but not judged: judge those answers again
        record = _run_dialogue(did, dialogue, answer_fn, judge, image_lookup, repeats, protocol,
                               answers=failed["answers"] if failed else None)
        log.append(record)
        if progress:
            progress(k, record)
    summary = summarise([log.done[i] for i in ids if i in log.done], repeats=repeats, judge_model=judge.model)
    summary["judge_protocol"] = protocol
    write_json(out_dir / SUMMARY, summary)
    return summary


def _run_dialogue(did: str, dialogue: Dialogue, answer_fn: AnswerFn, judge: Judge,
                  image_lookup: Callable[[str], Image.Image], repeats: int, protocol: str,
                  answers: list[str] | None = None) -> dict[str, Any]:
    """Answer both turns (unless `answers` are given: logged by a run whose judge failed) and judge them."""
    users, refs = split_turns(dialogue)
    images = dialogue.images
    if answers is None:
        pixels = {r.image_id: image_lookup(r.image_id) for r in images}
        history: list[Message] = []
        answers = []
        for user in users:
            history.append(user)
            shown = {r.image_id: pixels[r.image_id] for m in history for r in m.images}
            answers.append(call_answer(answer_fn, list(history), shown))
            history.append(Message(ASSISTANT, answers[-1]))
    prompt = judge_prompt_for(dialogue, users, answers, refs, protocol)
    judgments = [judge.judge(prompt, repeat=r).to_dict() for r in range(repeats)]
    ok = [j["scores"] for j in judgments if j["ok"]]
    scores = {k: sum(s[k] for s in ok) / len(ok) for k in SCORE_KEYS} if ok else None
    return {"id": did, "images": [[r.image_id, r.caption] for r in images],
            "questions": [strip_placeholders(u.content) for u in users], "answers": answers,
            "references": refs, "judgments": judgments, "scores": scores, "failed": scores is None,
            "judge_protocol": protocol, "meta": dialogue.meta}


def rejudge(records: list[dict], judge: Judge, protocol: str, repeats: int = 1) -> list[dict]:
    """The logged answers of a run (results.jsonl records) judged again with another protocol's prompt:
    the same answers, so any change in the scores is the judge's. Returns new records for `summarise`."""
    out = []
    for r in records:
        x = JudgeInput([(i, c) for i, c in r["images"]], r["questions"], r["answers"],
                       [str(a) for a in r["references"]] if protocol == "reference" and all(r["references"]) else None)
        judgments = [judge.judge(build_judge_prompt(x, protocol), repeat=k).to_dict() for k in range(repeats)]
        ok = [j["scores"] for j in judgments if j["ok"]]
        scores = {k: sum(s[k] for s in ok) / len(ok) for k in SCORE_KEYS} if ok else None
        out.append({**r, "judgments": judgments, "scores": scores, "failed": scores is None, "judge_protocol": protocol})
    return out


def _answer_score(scores: dict[str, float], answer: str) -> float:
    return sum(scores[f"{answer} {c}"] for c in CRITERIA) / len(CRITERIA)


def summarise(records: list[dict], *, repeats: int = 1, judge_model: str | None = None) -> dict[str, Any]:
    """A1, A2 (mean of C1-C3 per answer) and overall (mean of A1, A2), each over judged
    dialogues with a 95% CI; per-criterion means; failures counted, not scored."""
    judged = [r["scores"] for r in records if r["scores"] is not None]
    out: dict[str, Any] = {"n": len(records), "n_judged": len(judged), "n_failed": len(records) - len(judged),
                           "n_failed_judgments": sum(not j["ok"] for r in records for j in r["judgments"]),
                           "repeats": repeats, "judge_model": judge_model}
    series = {a: [_answer_score(s, a) for s in judged] for a in ANSWERS}
    series["overall"] = [(x + y) / 2 for x, y in zip(series["A1"], series["A2"])]
    ci: dict[str, list[float]] = {}
    for name, values in series.items():
        out[name] = mean_ci(values)[0] if values else None
        if values:
            ci[name] = list(mean_ci(values)[1:])
    out["ci95"] = ci
    out["criteria"] = {k: (sum(s[k] for s in judged) / len(judged) if judged else None) for k in SCORE_KEYS}
    for c in CRITERIA:
        out["criteria"][c] = (sum(s[f"{a} {c}"] for s in judged for a in ANSWERS) / (2 * len(judged))
                              if judged else None)
    if repeats > 1:
        spreads = [_spread([_answer_score(j["scores"], a) for j in r["judgments"] if j["ok"]])
                   for r in records for a in ANSWERS]
        spreads = [s for s in spreads if s is not None]
        out["judge_sd"] = sum(spreads) / len(spreads) if spreads else None
    return out


def _spread(values: list[float]) -> float | None:
    """Sample standard deviation of one answer's scores across judge repeats."""
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    return (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
