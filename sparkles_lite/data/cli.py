"""`python -m sparkles_lite data {validate,generate,llm-generate}`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sparkles_lite.data.validate import FORMATS, validate_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", required=True)

    v = sub.add_parser("validate", help="check a dialogue / SparklesEval / BISON / NLVR2 / per-turn file")
    v.add_argument("path", type=Path)
    v.add_argument("--images", type=Path, default=None, help="image folder: also check every image opens")
    v.add_argument("--max-errors", type=int, default=50)
    v.add_argument("--format", choices=(*FORMATS, "auto"), default="auto")

    g = sub.add_parser("generate", help="write the lite-world SparklesDialogue dataset")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--n-dialogues", type=int, default=1000)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--n-eval", type=int, default=150, help="items per held-out evaluation set (SparklesEval-, "
                                                           "BISON-, NLVR2-lite; the paper uses 150)")
    g.add_argument("--n-captions", type=int, default=None, help="stage-1 captions (default: --n-dialogues)")

    llm = sub.add_parser("llm-generate", help="write dialogues with an OpenAI-compatible LLM, as the paper did")
    llm.add_argument("--pool", type=Path, required=True,
                     help="dialogue file whose images (ids + captions) are the candidates; its first dialogue is the demo")
    llm.add_argument("--out", type=Path, required=True, help="JSONL of accepted dialogues (appended; resumable)")
    llm.add_argument("--rejects", type=Path, default=None, help="JSONL of rejected replies with reasons")
    llm.add_argument("--n-dialogues", type=int, default=10)
    llm.add_argument("--n-candidates", type=int, default=4)
    llm.add_argument("--seed", type=int, default=0)
    llm.add_argument("--base-url", default="https://api.openai.com/v1")
    llm.add_argument("--model", default="gpt-4")
    llm.add_argument("--temperature", type=float, default=0.7)


def run(args: argparse.Namespace) -> int:
    if args.data_command == "validate":
        report = validate_file(args.path, args.format, args.images, args.max_errors)
        for e in report.errors:
            print(e)
        if report.errors:
            if len(report.errors) >= args.max_errors:
                print(f"stopped after {args.max_errors} errors (--max-errors)", file=sys.stderr)
            return 1
        print(report.summary())
        return 0
    if args.data_command == "generate":
        from sparkles_lite.data.lite_tasks import write_lite_dataset
        try:
            paths = write_lite_dataset(args.out, n_dialogues=args.n_dialogues, seed=args.seed, n_eval=args.n_eval,
                                       n_captions=args.n_captions)
        except ValueError as e:
            print(f"data generate: {e}", file=sys.stderr)
            return 2
        print("wrote " + ", ".join(str(p) for p in paths.values()))
        return 0
    from sparkles_lite.data.io import load_dialogues
    from sparkles_lite.data.llm_generator import GeneratorConfig, generate_dialogues
    pool = load_dialogues(args.pool)
    images = [ref for d in pool for ref in d.images]
    config = GeneratorConfig(base_url=args.base_url, model=args.model, temperature=args.temperature)
    summary = generate_dialogues(images, pool[0], args.out, n_dialogues=args.n_dialogues,
                                 n_candidates=args.n_candidates, seed=args.seed, config=config,
                                 rejects_path=args.rejects)
    print(summary)
    return 0 if summary.accepted or summary.skipped else 1
