"""`python -m sparkles_lite eval`: BISON, NLVR2 and SparklesEval on the paper's protocols, and the lite table.

    python -m sparkles_lite eval --model sparkleschat-lite --task bison --out runs/eval/bison-sc
    python -m sparkles_lite eval --model minigpt4-lite --task sparkles-eval --out runs/eval/se-mg --limit 20
    python -m sparkles_lite eval --model DIR --task nlvr2 --data nlvr2_dev.json --images nlvr2/images --out OUT
    python -m sparkles_lite eval --task sparkles-eval --model DIR --data sparkles_eval.json --images IMGS \\
        --judge-base-url https://api.openai.com/v1 --judge-model gpt-4o --out OUT          # prints the cost, stops
    ... the same with --yes                                                                  # spends it
    python -m sparkles_lite eval --task lite-table [--out runs/eval]

Without `--data` the lite evaluation sets are generated into OUT/data (`write_lite_dataset`: the
held-out BISON-/NLVR2-/SparklesEval-lite sets, deterministic). Without `--judge-base-url`,
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


def load_choice_items(task: str, data: str | Path, limit: int | None = None) -> tuple[list, dict[str, str]]:
    """BISON or NLVR2 file -> (`choice_tasks.ChoiceItem`s with image ids, {image id: filename})."""
    from sparkles_lite.data.io import load_bison, load_nlvr2
    from sparkles_lite.eval.choice_tasks import bison_item, nlvr2_item

    items, filenames = [], {}
    if task == "bison":
        for k, x in enumerate(load_bison(data)[:limit]):
            item_id = str(x.evaluation_id if x.evaluation_id is not None else k)
            items.append(bison_item(item_id, x.caption, list(x.image_ids), x.label))
            filenames.update({i: f for i, f in zip(x.image_ids, x.image_filenames) if f})
    elif task == "nlvr2":
        for k, x in enumerate(load_nlvr2(data)[:limit]):
            item_id = str(x.evaluation_id if x.evaluation_id is not None else x.identifier)
            items.append(nlvr2_item(item_id, x.sentence, list(x.image_ids), x.label))
    else:
        raise ValueError(f"not a choice task: {task!r}")
    return items, filenames


def load_eval_dialogues(data: str | Path, limit: int | None = None) -> list[Dialogue]:
    """A SparklesEval file; each dialogue's run id is its `evaluation_id` (else its position)."""
    from sparkles_lite.data.io import load_dialogues

    dialogues = load_dialogues(data)[:limit]
    for k, d in enumerate(dialogues):
        d.meta.setdefault("id", d.meta.get("evaluation_id", k))
    return dialogues


def resolve_data(task: str, out: Path, data: str | Path | None, images: str | Path | None,
                 n_eval: int = DEFAULT_N_EVAL) -> tuple[Path, Path]:
    """(data file, image folder): the given ones, or the lite sets generated into out/data.

    The lite sets are always written whole (150 items each, more if asked): image ids run serially
    across the sets, so a shorter write would give later sets other ids and a resumed run's log
    would point at the wrong images."""
    if data is None:
        root = lite_data(out / "data", n_eval)
        return root / DATA_FILES[task], Path(images) if images else root / "images"
    data = Path(data)
    return data, Path(images) if images else data.parent / "images"


# ---------------------------------------------------------------- runs

def _load_model(model: Any, device: str, dtype: str):
    if isinstance(model, (str, Path)):
        from sparkles_lite.model.sparkles_chat import SparklesChat

        loaded = SparklesChat.from_pretrained(str(model), device=device, dtype=dtype).eval()
        print(loaded.precision.describe(), flush=True)
        return loaded
    return model


def answer_fn_for(model: Any, data_file: Path, max_new_tokens: int, seed: int, device: str = "cpu",
                  dtype: str = "auto"):
    """The `AnswerFn` for a model (name or dir, loaded on `device` in `dtype`; or a loaded SparklesChat),
    or for `text-oracle`: the shipped lite LM reading the true scene words, which needs the lite
    data's scenes.json."""
    from sparkles_lite.device import pick_device
    from sparkles_lite.eval.model_answer import model_answer_fn, oracle_answer_fn

    if model != TEXT_ORACLE:
        return model_answer_fn(_load_model(model, device, dtype), max_new_tokens=max_new_tokens, seed=seed)
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
               images: str | Path | None = None, limit: int | None = None, retries: int = 0,
               max_new_tokens: int = 48, seed: int = 0, verbose: bool = True,
               model_name: str | None = None, device: str = "cpu", dtype: str = "auto") -> dict[str, Any]:
    """BISON or NLVR2 for one model (a name/dir, loaded on `device`, or a loaded SparklesChat: then say
    `model_name`) into `out`; resumes a killed run; returns the summary."""
    from sparkles_lite.eval.choice_tasks import run_choice_task
    from sparkles_lite.eval.protocols import write_json
    from sparkles_lite.eval.report import report_run

    out = Path(out)
    data_file, image_dir = resolve_data(task, out, data, images, max(DEFAULT_N_EVAL, limit or 0))
    items, filenames = load_choice_items(task, data_file, limit)
    lookup = image_lookup(image_dir, filenames)
    started = time.time()
    answer = answer_fn_for(model, data_file, max_new_tokens, seed, device, dtype)
    summary = run_choice_task(task, items, answer, out, image_lookup=lookup, retries=retries, seed=seed,
                              progress=_printer(len(items), 25, verbose))
    summary.update(model=_model_name(model, model_name), data=str(data_file), images=str(image_dir), limit=limit,
                   max_new_tokens=max_new_tokens, elapsed_s=round(time.time() - started, 1))
    write_json(out / "summary.json", summary)
    report_run(out, lookup)
    return summary


def make_judge(out: Path, base_url: str | None, model: str | None):
    """(Judge, server or None): the offline lite judge on loopback when no base URL is given."""
    from sparkles_lite.eval.judge import Judge
    from sparkles_lite.eval.judge_server import MODEL_ID, start_judge_server

    server = None
    if base_url is None:
        server, base_url = start_judge_server()
        model = model or MODEL_ID
    elif model is None:
        raise ValueError("--judge-base-url needs --judge-model (e.g. gpt-4o)")
    return Judge(model=model, cache_dir=out / "judge_cache", base_url=base_url), server


def is_paid(base_url: str | None) -> bool:
    """Any judge that is not on this machine is assumed to cost money."""
    from sparkles_lite.eval.judge import _is_loopback_url

    return base_url is not None and not _is_loopback_url(base_url)


def run_sparkles(model: Any, out: str | Path, *, data: str | Path | None = None, images: str | Path | None = None,
                 limit: int | None = None, judge_base_url: str | None = None, judge_model: str | None = None,
                 repeats: int = 1, price_per_1k: float = GPT4_PRICE_PER_1K, yes: bool = False,
                 max_new_tokens: int = 64, seed: int = 0, verbose: bool = True, device: str = "cpu",
                 dtype: str = "auto") -> dict[str, Any] | None:
    """SparklesEval for one model (loaded on `device` in `dtype` when given by name) into `out`; None
    (nothing sent) when a paid judge lacks `yes`."""
    from sparkles_lite.eval.protocols import write_json
    from sparkles_lite.eval.report import report_run
    from sparkles_lite.eval.sparkles_eval import estimate_judge_cost, run_sparkles_eval

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_file, image_dir = resolve_data("sparkles-eval", out, data, images, max(DEFAULT_N_EVAL, limit or 0))
    dialogues = load_eval_dialogues(data_file, limit)
    judge, server = make_judge(out, judge_base_url, judge_model)
    try:
        paid = is_paid(judge_base_url)
        cost = estimate_judge_cost(dialogues, judge, repeats=repeats, price_per_1k_tokens=price_per_1k)
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
        answer = answer_fn_for(model, data_file, max_new_tokens, seed, device, dtype)
        summary = run_sparkles_eval(dialogues, answer, judge, out, image_lookup=lookup, repeats=repeats,
                                    progress=_printer(len(dialogues), 10, verbose))
    finally:
        if server is not None:
            server.close()
    summary.update(task="sparkles-eval", model=_model_name(model), data=str(data_file), images=str(image_dir),
                   limit=limit, judge_base_url=judge_base_url or "offline (loopback)", offline_judge=server is not None,
                   cost_estimate={"requests": cost.requests, "cached": cost.cached, "usd": round(cost.usd, 4)},
                   max_new_tokens=max_new_tokens, elapsed_s=round(time.time() - started, 1))
    write_json(out / "summary.json", summary)
    report_run(out, lookup)
    return summary


# ---------------------------------------------------------------- tables

def _fmt(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def lite_numbers(results: dict | None, summaries: list[dict] = ()) -> dict[str, dict[str, float | None]]:
    """{task: {"SparklesChat": value, "MiniGPT-4": value}} for the lite models: BISON/NLVR2 accuracy
    (%) from the saved lite table, SparklesEval overall from sparkles-eval run summaries."""
    keys = {**{k: f"{k}-lite" for k in LITE_MODELS}, ORACLE: ORACLE}  # saved-table row title prefixes
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
    """Markdown: the paper's numbers beside the lite models'. Same shape, not the same scale."""
    lines = ["| benchmark | SparklesChat (paper) | MiniGPT-4 (paper) | GPT-4 (paper) | "
             "SparklesChat-lite | MiniGPT-4-lite | text oracle (lite) |", "|---|---|---|---|---|---|---|"]
    for task, paper in PAPER.items():
        d = 2 if task == "sparkles-eval" else 1
        lines.append(f"| {TITLES[task]} | {_fmt(paper['SparklesChat'], d)} | {_fmt(paper['MiniGPT-4'], d)} | "
                     f"{_fmt(paper.get('GPT-4'), d)} | {_fmt(lite[task]['SparklesChat'], d)} | "
                     f"{_fmt(lite[task]['MiniGPT-4'], d)} | {_fmt(lite[task].get(ORACLE), d)} |")
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
    from sparkles_lite.eval.lite_eval import format_table
    from sparkles_lite.eval.table import RESULTS_FILE, load_results

    path = Path(results_path or RESULTS_FILE)
    results = load_results(path) if path.exists() else None
    if results is None:
        print(f"no saved lite table at {path}; build it with `python -m sparkles_lite.eval.table --n 400`")
    else:
        print(f"Lite table: exact scoring on held-out lite sets (n={results.get('n')} per task, 95% CIs), "
              f"from {path}\n")
        print(format_table(results["rows"], tuple(results.get("tasks") or ())))
        if results.get("sparkles_eval"):
            from sparkles_lite.eval.table import format_sparkles_eval
            print("\n" + format_sparkles_eval(results))
    summaries = find_summaries(runs)
    print("\nThe paper beside the lite models (lite SparklesEval: offline judge runs found under "
          f"{runs if runs else '--out'}):\n")
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
    parser.add_argument("--images", type=Path, default=None, help="image folder (default: DATA's folder/images)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items")
    parser.add_argument("--retries", type=int, default=0, help="re-ask unparsable BISON/NLVR2 replies N times")
    parser.add_argument("--judge-base-url", default=None, help="OpenAI-compatible judge (default: the offline "
                                                               "lite judge on loopback)")
    parser.add_argument("--judge-model", default=None, help="judge model name, e.g. gpt-4o")
    parser.add_argument("--repeats", type=int, default=1, help="judge each dialogue k times (judge variance)")
    parser.add_argument("--price-per-1k", type=float, default=GPT4_PRICE_PER_1K,
                        help="USD per 1k judge tokens, for the cost estimate")
    parser.add_argument("--yes", action="store_true", help="accept the cost of a paid judge")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: 48 (choice), 64 (SparklesEval)")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampled retries")
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
    from sparkles_lite.eval.model_answer import set_eval_threads

    set_eval_threads(args.threads)
    if args.task == "sparkles-eval":
        try:
            summary = run_sparkles(args.model, args.out, data=args.data, images=args.images, limit=args.limit,
                                   judge_base_url=args.judge_base_url, judge_model=args.judge_model,
                                   repeats=args.repeats, price_per_1k=args.price_per_1k, yes=args.yes,
                                   max_new_tokens=args.max_new_tokens or 64, seed=args.seed,
                                   device=args.device, dtype=args.dtype)
        except (ValueError, RuntimeError, FileNotFoundError) as e:
            print(f"eval: {e}", file=sys.stderr)
            return 2
        if summary is None:
            return 3
        keys = ("n", "n_judged", "n_failed", "A1", "A2", "overall")
        print(json.dumps({k: summary.get(k) for k in keys} | {"criteria": summary["criteria"]}, indent=1))
    else:
        try:
            summary = run_choice(args.task, args.model, args.out, data=args.data, images=args.images,
                                 limit=args.limit, retries=args.retries, max_new_tokens=args.max_new_tokens or 48,
                                 seed=args.seed, device=args.device, dtype=args.dtype)
        except (ValueError, FileNotFoundError) as e:
            print(f"eval: {e}", file=sys.stderr)
            return 2
        ci = summary["ci95"]
        print(f"{args.task}: accuracy {100 * summary['accuracy']:.1f}% [95% CI {100 * ci[0]:.1f}, {100 * ci[1]:.1f}] "
              f"on n={summary['n']} ({summary['unparsable']} unparsable, {summary['retried']} retried)")
    print(f"wrote {args.out / 'summary.json'} and {args.out / 'report.html'}")
    return 0
