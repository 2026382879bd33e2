"""`python -m sparkles_lite eval`: BISON, NLVR2 and SparklesEval, strictly or on the paper's protocols, and the lite table.

    python -m sparkles_lite eval --model sparkleschat-lite --task bison --out runs/eval/bison-sc
    python -m sparkles_lite eval --model sparkleschat-lite --task bison --protocol paper --out runs/eval/bison-sc-paper
    python -m sparkles_lite eval --model minigpt4-lite --task sparkles-eval --out runs/eval/se-mg --limit 20
    python -m sparkles_lite eval --model DIR --task nlvr2 --data Sparkles/evaluation/NLVR2/annotations/\
sparkles_evaluation_nlvr2_annotations.json --out OUT     # images: evaluation/NLVR2/images, as downloaded
    python -m sparkles_lite eval --task sparkles-eval --model DIR --data sparkles_eval.json --images IMGS \\
        --judge-base-url https://api.openai.com/v1 --judge-model gpt-4o --out OUT          # prints the cost, stops
    ... the same with --yes                                                                  # spends it
    python -m sparkles_lite eval --task lite-table [--out runs/eval]

Without `--data` the lite evaluation sets are generated into OUT/data (`write_lite_dataset`: the
held-out BISON-/NLVR2-/SparklesEval-lite sets, deterministic). Without `--images`, a file in an
`annotations/` folder takes its images from the `images/` folder beside it (the official layout),
any other file from `images/` beside the file.

Protocols. BISON/NLVR2: `--protocol strict` (default: greedy, asked once, an unparsable reply is
wrong) or `paper` (sampled at temperature 1.0, top_p 0.9, asked again until it parses, at most
`--max-attempts` times); `--prompt paper` asks in several sentences, as the paper does, instead of
the one-line lite prompt. SparklesEval: `--protocol` decodes the answers the same way (the paper
samples them too); `--judge-protocol paper` gives the judge what the paper's judge gets (captions,
questions, the model's answers; no reference answers), `reference` (default, this project's
addition) adds the reference answers. Without `--judge-base-url`,
SparklesEval starts the offline lite judge on a loopback port and talks to it through the
`openai` client, exactly as it would to GPT. A judge at any other address costs money: the
estimate is printed first and nothing is sent without `--yes` (set OPENAI_API_KEY for it).

Each run writes into OUT: predictions.jsonl (choice tasks) or results.jsonl (SparklesEval),
appended one item at a time, so a killed run resumes where it stopped; summary.json; report.html.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from sparkles_lite.assets import TEXT_ORACLE
from sparkles_lite.data.schema import Dialogue
from sparkles_lite.device import add_device_arguments

TASKS = ("bison", "nlvr2", "sparkles-eval", "lite-table")
DEFAULT_MAX_ATTEMPTS = 10  # --protocol paper: the official code asks until it parses, without a cap
DATA_FILES = {"bison": "bison.json", "nlvr2": "nlvr2.json", "sparkles-eval": "sparkles_eval.json"}
DEFAULT_N_EVAL = 150  # the paper evaluates 150 items per benchmark
GPT4_PRICE_PER_1K = 0.03  # USD per 1k tokens, GPT-4 (8k) prompt price when the paper was written

# The paper's numbers (arXiv:2308.16463): BISON / NLVR2 accuracy (%), SparklesEval score out of 10.
PAPER = {
    "bison": {"SparklesChat": 56.7, "MiniGPT-4": 46.0},
    "nlvr2": {"SparklesChat": 58.0, "MiniGPT-4": 51.3},
    "sparkles-eval": {"SparklesChat": 8.56, "MiniGPT-4": 3.91, "GPT-4": 9.26},
}
TITLES = {"bison": "BISON (acc. %)", "nlvr2": "NLVR2 (acc. %)", "sparkles-eval": "SparklesEval (score /10)"}
LITE_MODELS = {"SparklesChat": "sparkleschat-lite", "MiniGPT-4": "minigpt4-lite"}
# The lite counterpart of the paper's GPT-4 row: the frozen LM reading the true scene words.
ORACLE = "text oracle"
# The image-blind baseline row of the saved table (`lite_eval.MAJORITY_ROW` starts with it).
MAJORITY = "majority answer"


# ---------------------------------------------------------------- data

def lite_data(out_dir: str | Path, n_eval: int = DEFAULT_N_EVAL) -> Path:
    """The lite evaluation sets (no training data) in out_dir; reused when already written."""
    from sparkles_lite.data.lite_files import write_lite_dataset

    out_dir = Path(out_dir)
    marker = out_dir / ".lite_eval_sets.json"
    want = {"n_eval": n_eval}
    if not (marker.exists() and json.loads(marker.read_text()) == want):
        write_lite_dataset(out_dir, n_dialogues=0, n_captions=0, seed=0, n_eval=n_eval)
        marker.write_text(json.dumps(want))
    return out_dir


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


def resolve_data(task: str, out: Path, data: str | Path | None, images: str | Path | None,
                 n_eval: int = DEFAULT_N_EVAL) -> tuple[Path, Path]:
    """(data file, image folder): the given ones, or the lite sets generated into out/data.

    The lite sets are always written whole (150 items each, more if asked): image ids run serially
    across the sets, so a shorter write would give later sets other ids and a resumed run's log
    would point at the wrong images. Without `images`: `default_image_root` (the official layout's
    `images/` beside `annotations/`)."""
    from sparkles_lite.data.images import default_image_root

    if data is None:
        root = lite_data(out / "data", n_eval)
        return root / DATA_FILES[task], Path(images) if images else root / "images"
    data = Path(data)
    return data, Path(images) if images else default_image_root(data)


# ---------------------------------------------------------------- runs

def _load_model(model: Any, device: str, dtype: str):
    if isinstance(model, (str, Path)):
        from sparkles_lite.model.sparkles_chat import SparklesChat

        loaded = SparklesChat.from_pretrained(str(model), device=device, dtype=dtype).eval()
        print(loaded.precision.describe(), flush=True)
        return loaded
    return model


def answer_fn_for(model: Any, data_file: Path, max_new_tokens: int, seed: int, protocol: str = "strict",
                  device: str = "cpu", dtype: str = "auto"):
    """The `AnswerFn` for a model (name or dir, loaded on `device` in `dtype`; or a loaded SparklesChat),
    decoding as `protocol` says, or for `text-oracle`: the shipped lite LM reading the true scene words
    (greedy), which needs the lite data's scenes.json."""
    from sparkles_lite.device import pick_device
    from sparkles_lite.eval.model_answer import model_answer_fn, oracle_answer_fn
    from sparkles_lite.eval.protocols import CHOICE_PROTOCOLS

    if model == TEXT_ORACLE and CHOICE_PROTOCOLS[protocol].do_sample:
        raise ValueError(f"--model {TEXT_ORACLE} decodes greedily; --protocol {protocol} is for models")
    if model != TEXT_ORACLE:
        decoding = CHOICE_PROTOCOLS[protocol]
        return model_answer_fn(_load_model(model, device, dtype), max_new_tokens=max_new_tokens, seed=seed,
                               do_sample=decoding.do_sample, temperature=decoding.temperature, top_p=decoding.top_p)
    from sparkles_lite.assets import LITE_LM
    from sparkles_lite.data.lite_files import SCENES_FILE, load_scenes
    from sparkles_lite.model.language import load_lm
    from sparkles_lite.model.tokenizer import load_tokenizer

    scenes_file = Path(data_file).parent / SCENES_FILE
    if not scenes_file.is_file():
        raise ValueError(f"--model {TEXT_ORACLE} reads the true scenes, but {scenes_file} does not exist: "
                         "the text oracle runs only on lite data (written with its scenes.json)")
    import torch

    lm = load_lm(str(LITE_LM), dtype=torch.float32).to(pick_device(device)).eval()
    return oracle_answer_fn(lm, load_tokenizer(LITE_LM), load_scenes(scenes_file), max_new_tokens)


def _model_name(model: Any, name: str | None = None) -> str:
    return name or (str(model) if isinstance(model, (str, Path)) else type(model).__name__)


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


def run_choice(task: str, model: Any, out: str | Path, *, data: str | Path | None = None,
               images: str | Path | None = None, limit: int | None = None, protocol: str = "strict",
               max_attempts: int = DEFAULT_MAX_ATTEMPTS, prompt_style: str = "lite",
               max_new_tokens: int = 48, seed: int = 0, verbose: bool = True,
               model_name: str | None = None, device: str = "cpu", dtype: str = "auto") -> dict[str, Any]:
    """BISON or NLVR2 for one model (a name/dir, loaded on `device`, or a loaded SparklesChat: then say
    `model_name`) into `out`, on `protocol` ('strict' or 'paper'); resumes a killed run; returns the summary."""
    from sparkles_lite.eval.choice_tasks import run_choice_task
    from sparkles_lite.eval.protocols import write_json
    from sparkles_lite.eval.report import report_run

    out = Path(out)
    data_file, image_dir = resolve_data(task, out, data, images, max(DEFAULT_N_EVAL, limit or 0))
    items, filenames = load_choice_items(task, data_file, limit, prompt_style)
    lookup = image_lookup(image_dir, filenames)
    started = time.time()
    answer = answer_fn_for(model, data_file, max_new_tokens, seed, protocol, device, dtype)
    summary = run_choice_task(task, items, answer, out, image_lookup=lookup, protocol=protocol,
                              max_attempts=max_attempts, seed=seed, progress=_printer(len(items), 25, verbose))
    summary.update(model=_model_name(model, model_name), data=str(data_file), images=str(image_dir), limit=limit,
                   prompt_style=prompt_style, max_new_tokens=max_new_tokens,
                   elapsed_s=round(time.time() - started, 1))
    write_json(out / "summary.json", summary)
    report_run(out, lookup)
    return summary


def make_judge(out: Path, base_url: str | None, model: str | None, protocol: str = "reference"):
    """(Judge, server or None): the offline lite judge on loopback when no base URL is given; asked
    with the protocol's system prompt, temperature and reply budget (`judge.JUDGE_SETTINGS`)."""
    from sparkles_lite.eval.judge import JUDGE_SETTINGS, Judge
    from sparkles_lite.eval.judge_server import MODEL_ID, start_judge_server

    server = None
    if base_url is None:
        server, base_url = start_judge_server()
        model = model or MODEL_ID
    elif model is None:
        raise ValueError("--judge-base-url needs --judge-model (e.g. gpt-4o)")
    return Judge(model=model, cache_dir=out / "judge_cache", base_url=base_url, **JUDGE_SETTINGS[protocol]), server


def is_paid(base_url: str | None) -> bool:
    """Any judge that is not on this machine is assumed to cost money."""
    from sparkles_lite.eval.judge import _is_loopback_url

    return base_url is not None and not _is_loopback_url(base_url)


def run_sparkles(model: Any, out: str | Path, *, data: str | Path | None = None, images: str | Path | None = None,
                 limit: int | None = None, judge_base_url: str | None = None, judge_model: str | None = None,
                 repeats: int = 1, price_per_1k: float = GPT4_PRICE_PER_1K, yes: bool = False,
                 judge_protocol: str = "reference", protocol: str = "strict",
                 max_new_tokens: int = 64, seed: int = 0, verbose: bool = True, device: str = "cpu",
                 dtype: str = "auto") -> dict[str, Any] | None:
    """SparklesEval for one model (loaded on `device` in `dtype` when given by name) into `out`; None
    (nothing sent) when a paid judge lacks `yes`. `judge_protocol`: the judge prompt ('reference': this
    project's, with reference answers; 'paper'); `protocol`: how the model decodes its answers ('strict':
    greedy; 'paper': sampled as the paper)."""
    from sparkles_lite.eval.protocols import write_json
    from sparkles_lite.eval.report import report_run
    from sparkles_lite.eval.sparkles_eval import estimate_judge_cost, run_sparkles_eval

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_file, image_dir = resolve_data("sparkles-eval", out, data, images, max(DEFAULT_N_EVAL, limit or 0))
    dialogues = load_eval_dialogues(data_file, limit)
    judge, server = make_judge(out, judge_base_url, judge_model, judge_protocol)
    try:
        paid = is_paid(judge_base_url)
        cost = estimate_judge_cost(dialogues, judge, repeats=repeats, price_per_1k_tokens=price_per_1k,
                                   protocol=judge_protocol)
        if verbose:
            if server is not None:
                print(f"judge: the offline lite judge, started at {judge.base_url} (model {judge.model}); "
                      "no API key, no network, no cost", flush=True)
            else:
                print(f"judge: {judge.model} at {judge_base_url}", flush=True)
            note = f" at ${price_per_1k}/1k tokens" if paid else " if it were a paid judge (this one is free)"
            print(f"cost estimate: {cost}{note}", flush=True)
        if paid and not yes:
            print("not sending anything: re-run with --yes to accept this cost", flush=True)
            return None
        lookup = image_lookup(image_dir)
        started = time.time()
        answer = answer_fn_for(model, data_file, max_new_tokens, seed, protocol, device, dtype)
        summary = run_sparkles_eval(dialogues, answer, judge, out, image_lookup=lookup, repeats=repeats,
                                    protocol=judge_protocol, progress=_printer(len(dialogues), 10, verbose))
    finally:
        if server is not None:
            server.close()
    summary.update(task="sparkles-eval", model=_model_name(model), data=str(data_file), images=str(image_dir),
                   limit=limit, judge_base_url=judge_base_url or "offline (loopback)", offline_judge=server is not None,
                   cost_estimate={"requests": cost.requests, "cached": cost.cached, "usd": round(cost.usd, 4)},
                   protocol=protocol, max_new_tokens=max_new_tokens, elapsed_s=round(time.time() - started, 1))
    write_json(out / "summary.json", summary)
    report_run(out, lookup)
    return summary


# ---------------------------------------------------------------- tables

def _fmt(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def lite_numbers(results: dict | None, summaries: list[dict] = ()) -> dict[str, dict[str, float | None]]:
    """{task: {"SparklesChat": value, "MiniGPT-4": value}} for the lite models: BISON/NLVR2 accuracy
    (%) from the saved lite table, SparklesEval overall from sparkles-eval run summaries."""
    keys = {**{k: f"{k}-lite" for k in LITE_MODELS}, ORACLE: ORACLE, MAJORITY: MAJORITY}  # row title prefixes
    out: dict[str, dict[str, float | None]] = {t: {k: None for k in keys} for t in PAPER}
    for title, rows in ((results or {}).get("rows") or {}).items():
        for key, prefix in keys.items():
            if title.startswith(prefix):
                for task in ("bison", "nlvr2"):
                    if rows.get(task):
                        out[task][key] = 100 * rows[task]["accuracy"]
    for title, judged in ((results or {}).get("sparkles_eval") or {}).items():
        for key, prefix in keys.items():
            if title.startswith(prefix) and judged.get("overall") is not None:
                out["sparkles-eval"][key] = judged["overall"]
    for s in summaries:
        for key, name in (LITE_MODELS | {ORACLE: TEXT_ORACLE}).items():
            if s.get("task") == "sparkles-eval" and s.get("model") == name and s.get("overall") is not None:
                out["sparkles-eval"][key] = s["overall"]
            elif s.get("task") in ("bison", "nlvr2") and s.get("model") == name and out[s["task"]][key] is None:
                out[s["task"]][key] = 100 * s["accuracy"]
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
                     f"{_fmt(lite[task]['MiniGPT-4'], d)} | {_fmt(lite[task].get(ORACLE), d)} | "
                     f"{_fmt(lite[task].get(MAJORITY), d)} |")
    return "\n".join(lines)


def find_summaries(root: str | Path | None) -> list[dict]:
    """Every eval-run summary.json under root (none when root is None or missing)."""
    if root is None or not Path(root).is_dir():
        return []
    found = []
    for p in sorted(Path(root).rglob("summary.json")):
        try:
            s = json.loads(p.read_text())
        except ValueError:
            continue
        if isinstance(s, dict) and "task" in s and "model" in s:
            found.append(s)
    return found


def lite_table(results_path: str | Path | None = None, runs: str | Path | None = None) -> int:
    from sparkles_lite.eval.lite_eval import format_constant_answers, format_table
    from sparkles_lite.eval.table import RESULTS_FILE, load_results

    path = Path(results_path or RESULTS_FILE)
    results = load_results(path) if path.exists() else None
    if results is None:
        print(f"no saved lite table at {path}; build it with `python -m sparkles_lite.eval.table --n 400`")
    else:
        print(f"Lite table: exact scoring on held-out lite sets (n={results.get('n')} per task, 95% CIs), "
              f"from {path}\n")
        print(format_table(results["rows"], tuple(results.get("tasks") or ())))
        if results.get("constant_answers"):
            print(format_constant_answers(results["constant_answers"]))
        if results.get("sparkles_eval"):
            from sparkles_lite.eval.table import format_sparkles_eval
            print("\n" + format_sparkles_eval(results))
    summaries = find_summaries(runs)
    print("\nThe paper beside the lite models (lite SparklesEval: the offline judge with this project's "
          f"reference-based prompt, or runs found under {runs if runs else '--out'}):\n")
    print(paper_comparison(lite_numbers(results, summaries)))
    return 0 if results is not None else 1


# ---------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--model", help="saved model dir, shipped name (sparkleschat-lite, minigpt4-lite, "
                                        "control-lite), preset, or text-oracle (the lite LM reading the "
                                        "true scene words; lite data only)")
    parser.add_argument("--out", type=Path, help="run folder (predictions, summary.json, report.html); "
                                                 "for lite-table: where to look for SparklesEval runs")
    parser.add_argument("--data", type=Path, default=None, help="BISON / NLVR2 / SparklesEval file (default: "
                                                                "the lite sets, generated into OUT/data)")
    parser.add_argument("--images", type=Path, default=None, help="image folder (default: images/ beside DATA's "
                                                                  "annotations/ folder, else beside DATA)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument("--protocol", choices=("strict", "paper"), default="strict",
                        help="strict: greedy, asked once, unparsable = wrong; paper: sampled at T=1.0, top_p 0.9, "
                             "BISON/NLVR2 asked again until the reply parses")
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS,
                        help="--protocol paper: asks per BISON/NLVR2 item at most (then it counts as wrong)")
    parser.add_argument("--prompt", choices=("lite", "paper"), default="lite",
                        help="BISON/NLVR2 prompt: one line (lite) or several sentences as the paper's")
    parser.add_argument("--judge-protocol", choices=("reference", "paper"), default="reference",
                        help="SparklesEval judge prompt: paper (captions, questions, answers; the paper's format) "
                             "or reference (this project's addition: reference answers too)")
    parser.add_argument("--judge-base-url", default=None, help="OpenAI-compatible judge (default: the offline "
                                                               "lite judge on loopback)")
    parser.add_argument("--judge-model", default=None, help="judge model name, e.g. gpt-4o")
    parser.add_argument("--repeats", type=int, default=1, help="judge each dialogue k times (judge variance)")
    parser.add_argument("--price-per-1k", type=float, default=GPT4_PRICE_PER_1K,
                        help="USD per 1k judge tokens, for the cost estimate")
    parser.add_argument("--yes", action="store_true", help="accept the cost of a paid judge")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: 48 (choice), 64 (SparklesEval)")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampled answers (--protocol paper)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--results", type=Path, default=None, help="lite-table: saved table (default: shipped)")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.task == "lite-table":
        return lite_table(args.results, args.out)
    if not args.model or not args.out:
        print(f"eval --task {args.task} needs --model and --out", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_file():
        print(f"--data {args.data}: no such file", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("--limit must be >= 1", file=sys.stderr)
        return 2
    if args.max_attempts < 1:
        print("--max-attempts must be >= 1", file=sys.stderr)
        return 2
    from sparkles_lite.eval.model_answer import set_eval_threads

    set_eval_threads(args.threads)
    if args.task == "sparkles-eval":
        try:
            summary = run_sparkles(args.model, args.out, data=args.data, images=args.images, limit=args.limit,
                                   judge_base_url=args.judge_base_url, judge_model=args.judge_model,
                                   repeats=args.repeats, price_per_1k=args.price_per_1k, yes=args.yes,
                                   judge_protocol=args.judge_protocol, protocol=args.protocol,
                                   max_new_tokens=args.max_new_tokens or 64, seed=args.seed,
                                   device=args.device, dtype=args.dtype)
        except (ValueError, RuntimeError, FileNotFoundError) as e:
            print(f"eval: {e}", file=sys.stderr)
            return 2
        if summary is None:
            return 3
        keys = ("n", "n_judged", "n_failed", "A1", "A2", "overall", "judge_protocol")
        print(json.dumps({k: summary.get(k) for k in keys} | {"criteria": summary["criteria"]}, indent=1))
    else:
        try:
            summary = run_choice(args.task, args.model, args.out, data=args.data, images=args.images,
                                 limit=args.limit, protocol=args.protocol, max_attempts=args.max_attempts,
                                 prompt_style=args.prompt, max_new_tokens=args.max_new_tokens or 48, seed=args.seed,
                                 device=args.device, dtype=args.dtype)
        except (ValueError, FileNotFoundError) as e:
            print(f"eval: {e}", file=sys.stderr)
            return 2
        ci = summary["ci95"]
        print(f"{args.task} ({args.protocol} protocol): accuracy {100 * summary['accuracy']:.1f}% "
              f"[95% CI {100 * ci[0]:.1f}, {100 * ci[1]:.1f}] on n={summary['n']} ({summary['unparsable']} unparsable, "
              f"{summary['retried']} asked again, {summary['mean_attempts']:.2f} asks per item)")
    print(f"wrote {args.out / 'summary.json'} and {args.out / 'report.html'}")
    return 0
