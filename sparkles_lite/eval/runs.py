"""One evaluation run into a folder, on the paper's protocols: a model, a data file in the original
layout (BISON, NLVR2, SparklesEval) with its image folder, and for SparklesEval a judge.

Each run writes into its folder: predictions.jsonl (choice tasks) or results.jsonl (SparklesEval),
appended one item at a time, so a killed run resumes where it stopped; summary.json; report.html;
and first run.json, what makes the run (`run_folder`): a rerun of another model, data file, protocol
or judge into the same folder is refused (`FolderOfAnotherRun`) unless `overwrite` starts it afresh.
What a run is given is its caller's choice: `python -m sparkles_lite eval` (`eval/cli.py`) falls
back to the held-out lite sets and the offline lite judge when given no `--data` or judge URL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from sparkles_lite.data.schema import Dialogue
from sparkles_lite.eval import model_answer
from sparkles_lite.eval.protocols import CHOICE_PROTOCOLS, SUMMARY, AnswerFn, write_json
from sparkles_lite.openai_client import is_loopback_url, redact_url
from sparkles_lite.run_folder import bind_folder, file_identity, model_identity

GPT4_PRICE_PER_1K = 0.03  # USD per 1k tokens, GPT-4 (8k) prompt price when the paper was written
DEFAULT_MAX_ATTEMPTS = 10  # --protocol paper: the official code asks until it parses, without a cap

# (model, data file, max_new_tokens, seed, protocol, device, dtype) -> the AnswerFn that answers for
# the model on that data, decoding as the protocol says
AnswerMaker = Callable[[Any, Path, int, int, str, str, str], AnswerFn]


# ---------------------------------------------------------------- data

def image_lookup(images: str | Path, filenames: dict[str, str] | None = None) -> Callable[[str], Image.Image]:
    """Open images by id from a flat folder (`<id>.png/.jpg`), or by the file an item names."""
    from sparkles_lite.data.images import ImageFolder

    folder, filenames = ImageFolder(images), dict(filenames or {})
    return lambda image_id: folder.load(image_id, filenames.get(image_id))


def load_choice_items(task: str, data: str | Path, limit: int | None = None,
                      style: str = "lite") -> tuple[list, dict[str, str]]:
    """BISON or NLVR2 file -> (`choice_tasks.ChoiceItem`s with image ids, {image id: filename}).
    Item ids are the layout's run ids (`io.LAYOUTS[task].run_id`); a BISON image is the file its
    `image_filename` names, an NLVR2 pair `<identifier minus its last part>-img0/1`, as officially."""
    from sparkles_lite.data.io import LAYOUTS, read_layout
    from sparkles_lite.eval.choice_tasks import bison_item, nlvr2_item

    if task not in ("bison", "nlvr2"):
        raise ValueError(f"not a choice task: {task!r}")
    run_id = LAYOUTS[task].run_id
    items, filenames = [], {}
    for k, x in enumerate(read_layout(data, task)[:limit]):
        if task == "bison":
            items.append(bison_item(run_id(x, k), x.caption, list(x.image_ids), x.label, style))
            filenames.update({i: f for i, f in zip(x.image_ids, x.image_filenames) if f})
        else:
            items.append(nlvr2_item(run_id(x, k), x.sentence, list(x.image_ids), x.label, style))
    return items, filenames


def load_eval_dialogues(data: str | Path, limit: int | None = None) -> list[Dialogue]:
    """A SparklesEval file; each dialogue's run id is its `evaluation_id`."""
    from sparkles_lite.data.io import LAYOUTS, load_eval_dialogues as read_eval

    dialogues = read_eval(data)[:limit]
    for k, d in enumerate(dialogues):
        d.meta.setdefault("id", LAYOUTS["eval"].run_id(d, k))
    return dialogues


def image_root(data_file: Path, images: str | Path | None) -> Path:
    """`images`, else `default_image_root` (the official layout's `images/` beside `annotations/`)."""
    from sparkles_lite.data.images import default_image_root

    return Path(images) if images else default_image_root(data_file)


# ---------------------------------------------------------------- models

def load_model(model: Any, device: str = "cpu", dtype: str = "auto"):
    """A SparklesChat from a shipped name, a saved directory or a preset (on `device` in `dtype`); a
    loaded model as it is."""
    if isinstance(model, (str, Path)):
        from sparkles_lite.model.sparkles_chat import SparklesChat

        loaded = SparklesChat.from_pretrained(str(model), device=device, dtype=dtype).eval()
        print(loaded.precision.describe(), flush=True)
        return loaded
    return model


def answer_fn_for_model(model: Any, data_file: Path, max_new_tokens: int, seed: int, protocol: str = "strict",
                        device: str = "cpu", dtype: str = "auto") -> AnswerFn:
    """The `AnswerMaker` of SparklesChat models (any preset), decoding as `protocol` says: they answer
    from the images alone, so the data file plays no part."""
    decoding = CHOICE_PROTOCOLS[protocol]
    return model_answer.model_answer_fn(load_model(model, device, dtype), max_new_tokens=max_new_tokens, seed=seed,
                                        do_sample=decoding.do_sample, temperature=decoding.temperature,
                                        top_p=decoding.top_p)


def display_name(model: Any, name: str | None = None) -> str:
    """How a run names its model: `name`, else the name or directory it was given, else its class."""
    return name or (str(model) if isinstance(model, (str, Path)) else type(model).__name__)


def bind_run(out: Path, identity: dict, log: str, overwrite: bool) -> None:
    """`run_folder.bind_folder` for an evaluation run (its log, summary and report); the judge cache
    (keyed by judge model and prompt) and generated lite data stay: they are never wrong."""
    from sparkles_lite.eval.report import REPORT

    bind_folder(out, identity, owned=(log, SUMMARY, REPORT), overwrite=overwrite)


def _printer(total: int, every: int, verbose: bool) -> Callable[[int, dict], None] | None:
    if not verbose:
        return None
    state = {"n": 0, "ok": 0}

    def progress(k: int, record: dict) -> None:
        state["n"] += 1
        state["ok"] += bool(record.get("correct", False))
        if state["n"] % every == 0 or k == total - 1:
            print(f"  {k + 1}/{total} done", flush=True)
    return progress


# ---------------------------------------------------------------- runs

def run_choice(task: str, model: Any, out: str | Path, *, data: str | Path, images: str | Path | None = None,
               limit: int | None = None, protocol: str = "strict", max_attempts: int = DEFAULT_MAX_ATTEMPTS,
               prompt_style: str = "lite", max_new_tokens: int = 48, seed: int = 0, verbose: bool = True,
               model_name: str | None = None, device: str = "cpu", dtype: str = "auto",
               answer_for: AnswerMaker = answer_fn_for_model, overwrite: bool = False) -> dict[str, Any]:
    """BISON or NLVR2 for one model (a name/dir, loaded on `device`, or a loaded SparklesChat: then say
    `model_name`) on `data` (images from `images`, default: `image_root`) into `out`, on `protocol`
    ('strict' or 'paper'); resumes a killed run of the same model, data and protocol (another is refused
    unless `overwrite`); returns the summary."""
    from sparkles_lite.eval.choice_tasks import PREDICTIONS, run_choice_task
    from sparkles_lite.eval.report import report_run

    out, data_file = Path(out), Path(data)
    image_dir = image_root(data_file, images)
    items, filenames = load_choice_items(task, data_file, limit, prompt_style)
    lookup = image_lookup(image_dir, filenames)
    bind_run(out, {"task": task, "model": model_identity(model, model_name), "data": file_identity(data_file, out),
                   "images": str(image_dir.resolve()),
                   "protocol": {"protocol": protocol, "max_attempts": max_attempts, "prompt": prompt_style,
                                "max_new_tokens": max_new_tokens, "seed": seed}},
             PREDICTIONS, overwrite)
    started = time.time()
    answer = answer_for(model, data_file, max_new_tokens, seed, protocol, device, dtype)
    summary = run_choice_task(task, items, answer, out, image_lookup=lookup, protocol=protocol,
                              max_attempts=max_attempts, seed=seed, progress=_printer(len(items), 25, verbose))
    summary.update(model=display_name(model, model_name), data=str(data_file), images=str(image_dir), limit=limit,
                   prompt_style=prompt_style, max_new_tokens=max_new_tokens,
                   elapsed_s=round(time.time() - started, 1))
    write_json(out / SUMMARY, summary)
    report_run(out, lookup)
    return summary


@dataclass
class JudgeSetup:
    """The judge of a SparklesEval run, as the run reports it: `description` is printed before the run;
    `offline` marks a judge on this machine that costs nothing; `server`, when the set-up started one,
    is closed when the run ends."""

    judge: Any  # eval.judge.Judge
    description: str
    offline: bool = False
    server: Any = None


def remote_judge(out: str | Path, base_url: str, model: str | None, protocol: str = "reference",
                 **options: Any) -> JudgeSetup:
    """A judge at an OpenAI-compatible URL (GPT or any other), its cache in out/judge_cache, asked with
    `protocol`'s system prompt, temperature and reply budget (`judge.JUDGE_SETTINGS`); `options`: the
    `Judge`'s (timeout_s, max_attempts)."""
    from sparkles_lite.eval.judge import JUDGE_SETTINGS, Judge

    if model is None:
        raise ValueError("--judge-base-url needs --judge-model (e.g. gpt-4o)")
    return JudgeSetup(Judge(model=model, cache_dir=Path(out) / "judge_cache", base_url=base_url,
                            **JUDGE_SETTINGS[protocol], **options), f"{model} at {redact_url(base_url)}")


def judge_identity(judge: JudgeSetup) -> dict[str, str | None]:
    """How a run folder records its judge: the model and where it answers (credentials redacted;
    the offline judge by name, its port changing every run)."""
    return {"model": judge.judge.model,
            "url": "offline lite judge (loopback)" if judge.offline else redact_url(judge.judge.base_url)}


def is_paid(base_url: str | None) -> bool:
    """Any judge that is not on this machine is assumed to cost money."""
    return base_url is not None and not is_loopback_url(base_url)


def run_sparkles(model: Any, out: str | Path, judge: JudgeSetup, *, data: str | Path,
                 images: str | Path | None = None, limit: int | None = None, repeats: int = 1,
                 price_per_1k: float = GPT4_PRICE_PER_1K, yes: bool = False, judge_protocol: str = "reference",
                 protocol: str = "strict", max_new_tokens: int = 64, seed: int = 0, verbose: bool = True,
                 device: str = "cpu", dtype: str = "auto",
                 answer_for: AnswerMaker = answer_fn_for_model, overwrite: bool = False) -> dict[str, Any] | None:
    """SparklesEval for one model on `data` into `out`, judged by `judge` (closed at the end) with
    `judge_protocol`'s prompt ('reference': this project's, with reference answers; 'paper'); the model
    decodes its answers as `protocol` says ('strict': greedy; 'paper': sampled as the paper). None
    (nothing sent) when a paid judge lacks `yes`. Resumes a killed run of the same model, data,
    protocols and judge (another is refused unless `overwrite`), judging again what its judge failed."""
    from sparkles_lite.eval.report import report_run
    from sparkles_lite.eval.sparkles_eval import RESULTS, estimate_judge_cost, run_sparkles_eval

    try:
        out, data_file = Path(out), Path(data)
        image_dir = image_root(data_file, images)
        dialogues = load_eval_dialogues(data_file, limit)
        bind_run(out, {"task": "sparkles-eval", "model": model_identity(model), "data": file_identity(data_file, out),
                       "images": str(image_dir.resolve()),
                       "protocol": {"protocol": protocol, "judge_protocol": judge_protocol, "repeats": repeats,
                                    "max_new_tokens": max_new_tokens, "seed": seed},
                       "judge": judge_identity(judge)}, RESULTS, overwrite)
        paid = is_paid(judge.judge.base_url)
        cost = estimate_judge_cost(dialogues, judge.judge, repeats=repeats, price_per_1k_tokens=price_per_1k,
                                   protocol=judge_protocol)
        if verbose:
            print(f"judge: {judge.description}", flush=True)
            note = f" at ${price_per_1k}/1k tokens" if paid else " if it were a paid judge (this one is free)"
            print(f"cost estimate: {cost}{note}", flush=True)
        if paid and not yes:
            print("not sending anything: re-run with --yes to accept this cost", flush=True)
            return None
        lookup = image_lookup(image_dir)
        started = time.time()
        answer = answer_for(model, data_file, max_new_tokens, seed, protocol, device, dtype)
        summary = run_sparkles_eval(dialogues, answer, judge.judge, out, image_lookup=lookup, repeats=repeats,
                                    protocol=judge_protocol, progress=_printer(len(dialogues), 10, verbose))
    finally:
        if judge.server is not None:
            judge.server.close()
    summary.update(task="sparkles-eval", model=display_name(model), data=str(data_file), images=str(image_dir),
                   limit=limit, judge_base_url=judge_identity(judge)["url"],
                   offline_judge=judge.offline,
                   cost_estimate={"requests": cost.requests, "cached": cost.cached, "usd": round(cost.usd, 4)},
                   protocol=protocol, max_new_tokens=max_new_tokens, elapsed_s=round(time.time() - started, 1))
    write_json(out / SUMMARY, summary)
    report_run(out, lookup)
    return summary


def find_summaries(root: str | Path | None) -> list[dict]:
    """Every eval-run summary.json under root (none when root is None or missing)."""
    if root is None or not Path(root).is_dir():
        return []
    found = []
    for p in sorted(Path(root).rglob(SUMMARY)):
        try:
            s = json.loads(p.read_text())
        except ValueError:
            continue
        if isinstance(s, dict) and "task" in s and "model" in s:
            found.append(s)
    return found
