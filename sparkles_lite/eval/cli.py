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
appended one item at a time, so a killed run resumes where it stopped; summary.json; report.html;
run.json, what made the run: model (and its weights' sha256), task, data file (path, sha256),
protocols, judge (model, URL with any credentials redacted). A rerun that differs in any of these
exits 2 naming the difference; --overwrite starts OUT afresh. Dialogues the judge failed on are not
done: a rerun judges their answers again.

Waiting for the judge is bounded: each request waits at most --judge-timeout seconds, a judgment
sends at most --judge-attempts requests (a timeout, an error status or an unreadable reply alike),
with 1, 2, 4... s of backoff between; so one dialogue's worst case is
--judge-attempts x --judge-timeout + backoff, times --repeats: {worst_case}.

exit status: 0 done; 2 bad input (data, flag, model, image) or an OUT of another run; 3 a paid
judge without --yes (nothing sent); 4 no dialogue could be judged (summary.json is written; a
rerun judges them again).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sparkles_lite.cli_types import positive
from sparkles_lite.device import add_device_arguments
from sparkles_lite.eval import runs
from sparkles_lite.eval.judge import worst_case_s
from sparkles_lite.eval.model_answer import set_eval_threads
from sparkles_lite.lite.files import N_HELD_OUT, eval_data
from sparkles_lite.lite.judge_server import offline_judge
from sparkles_lite.lite.oracle import answer_fn_for
from sparkles_lite.lite.table import print_lite_table

TASK_CHOICES = ("bison", "nlvr2", "sparkles-eval", "lite-table")
JUDGE_TIMEOUT_S, JUDGE_ATTEMPTS = 30.0, 3
NOTHING_JUDGED = 4  # the exit status when no dialogue could be judged


def _worst_case() -> str:
    seconds = worst_case_s(JUDGE_TIMEOUT_S, JUDGE_ATTEMPTS)
    return (f"{JUDGE_ATTEMPTS} x {JUDGE_TIMEOUT_S:.0f} s + {seconds - JUDGE_ATTEMPTS * JUDGE_TIMEOUT_S:.0f} s "
            f"= {seconds:.0f} s at the defaults")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.format(worst_case=_worst_case())
    parser.add_argument("--task", choices=TASK_CHOICES, required=True)
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
    parser.add_argument("--max-attempts", type=int, default=runs.DEFAULT_MAX_ATTEMPTS,
                        help="--protocol paper: asks per BISON/NLVR2 item at most (then it counts as wrong)")
    parser.add_argument("--prompt", choices=("lite", "paper"), default="lite",
                        help="BISON/NLVR2 prompt: one line (lite) or several sentences as the paper's")
    parser.add_argument("--judge-protocol", choices=("reference", "paper"), default="reference",
                        help="SparklesEval judge prompt: paper (captions, questions, answers; the paper's format) "
                             "or reference (this project's addition: reference answers too)")
    parser.add_argument("--judge-base-url", default=None, help="OpenAI-compatible judge (default: the offline "
                                                               "lite judge on loopback)")
    parser.add_argument("--judge-model", default=None, help="judge model name, e.g. gpt-4o")
    parser.add_argument("--judge-timeout", type=positive(float), default=JUDGE_TIMEOUT_S, metavar="SECONDS",
                        help=f"how long one judge request may take (default {JUDGE_TIMEOUT_S:.0f})")
    parser.add_argument("--judge-attempts", type=positive(int), default=JUDGE_ATTEMPTS, metavar="N",
                        help=f"judge requests per judgment at most, whatever went wrong (default {JUDGE_ATTEMPTS}); "
                             f"worst case per dialogue: {_worst_case()}, times --repeats")
    parser.add_argument("--repeats", type=int, default=1, help="judge each dialogue k times (judge variance)")
    parser.add_argument("--price-per-1k", type=float, default=runs.GPT4_PRICE_PER_1K,
                        help="USD per 1k judge tokens, for the cost estimate")
    parser.add_argument("--yes", action="store_true", help="accept the cost of a paid judge")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: 48 (choice), 64 (SparklesEval)")
    parser.add_argument("--seed", type=int, default=0, help="seed for sampled answers (--protocol paper)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--results", type=Path, default=None, help="lite-table: saved table (default: shipped)")
    parser.add_argument("--overwrite", action="store_true", help="start OUT afresh when it holds another run "
                                                                 "(its results, summary and report are removed)")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.task == "lite-table":
        return print_lite_table(args.results, args.out)
    if not args.model or not args.out:
        print(f"error: eval --task {args.task} needs --model and --out", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_file():
        print(f"error: no such file (--data {args.data})", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print("error: --limit must be >= 1", file=sys.stderr)
        return 2
    if args.max_attempts < 1:
        print("error: --max-attempts must be >= 1", file=sys.stderr)
        return 2
    set_eval_threads(args.threads)
    n_held_out = max(N_HELD_OUT, args.limit or 0)
    data, images = eval_data(args.task, args.out, args.data, args.images, n_held_out)
    if args.task == "sparkles-eval":
        options = {"timeout_s": args.judge_timeout, "max_attempts": args.judge_attempts}
        judge = (offline_judge(args.out, args.judge_protocol, **options) if args.judge_base_url is None
                 else runs.remote_judge(args.out, args.judge_base_url, args.judge_model, args.judge_protocol, **options))
        summary = runs.run_sparkles(args.model, args.out, judge, data=data, images=images, limit=args.limit,
                                    repeats=args.repeats, price_per_1k=args.price_per_1k, yes=args.yes,
                                    judge_protocol=args.judge_protocol, protocol=args.protocol,
                                    max_new_tokens=args.max_new_tokens or 64, seed=args.seed,
                                    device=args.device, dtype=args.dtype, answer_for=answer_fn_for,
                                    overwrite=args.overwrite)
        if summary is None:
            return 3
        keys = ("n", "n_judged", "n_failed", "A1", "A2", "overall", "judge_protocol")
        print(json.dumps({k: summary.get(k) for k in keys} | {"criteria": summary["criteria"]}, indent=1))
    else:
        summary = runs.run_choice(args.task, args.model, args.out, data=data, images=images, limit=args.limit,
                                  protocol=args.protocol, max_attempts=args.max_attempts, prompt_style=args.prompt,
                                  max_new_tokens=args.max_new_tokens or 48, seed=args.seed, device=args.device,
                                  dtype=args.dtype, answer_for=answer_fn_for, overwrite=args.overwrite)
        ci = summary["ci95"]
        print(f"{args.task} ({args.protocol} protocol): accuracy {100 * summary['accuracy']:.1f}% "
              f"[95% CI {100 * ci[0]:.1f}, {100 * ci[1]:.1f}] on n={summary['n']} ({summary['unparsable']} unparsable, "
              f"{summary['retried']} asked again, {summary['mean_attempts']:.2f} asks per item)")
    print(f"wrote {args.out / 'summary.json'} and {args.out / 'report.html'}")
    if args.task == "sparkles-eval" and summary["n"] and not summary["n_judged"]:
        print(f"error: no dialogue could be judged ({summary['n_failed']} failed; results.jsonl says why): "
              "rerun when the judge answers to judge them", file=sys.stderr)
        return NOTHING_JUDGED
    return 0
