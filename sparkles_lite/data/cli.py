"""`python -m sparkles_lite data {validate,show,stats,generate,llm-generate}`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sparkles_lite.cli_types import positive
from sparkles_lite.data.images import default_image_root
from sparkles_lite.data.io import DataFormatError
from sparkles_lite.data.validate import FORMATS, validate_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", required=True)

    v = sub.add_parser("validate", help="check a dialogue / SparklesEval / BISON / NLVR2 / per-turn file")
    v.add_argument("path", type=Path)
    v.add_argument("--images", type=Path, default=None, help="image folder: also check every image opens (default: "
                                                             "images/ beside the file's annotations/ folder, if there)")
    v.add_argument("--max-errors", type=positive(int), default=50, help="stop after N errors (N >= 1)")
    v.add_argument("--format", choices=(*FORMATS, "auto"), default="auto")

    show = sub.add_parser("show", help="write a data file as an HTML page: each item with its images inline")
    show.add_argument("path", type=Path)
    show.add_argument("--images", type=Path, default=None, help="image folder (default: as for validate)")
    show.add_argument("--out", type=Path, required=True, help="the HTML page to write")
    show.add_argument("--first", type=int, default=20, help="show the first N items")

    st = sub.add_parser("stats", help="items, images, turns, words per question/answer, common question openings")
    st.add_argument("path", type=Path)
    st.add_argument("--top", type=int, default=10, help="how many question openings to list")
    st.add_argument("--plot", type=Path, default=None, help="also save a matplotlib figure (PNG) here")

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
        images = args.images
        if images is None and args.path.parent.name == "annotations" and default_image_root(args.path).is_dir():
            images = default_image_root(args.path)
            print(f"checking images in {images} (images/ beside annotations/)", file=sys.stderr)
        report = validate_file(args.path, args.format, images, args.max_errors)
        for w in report.warnings[:args.max_errors]:
            print(f"warning: {w}")
        for e in report.errors:
            if e.dialogue is None and e.message is None:  # the file cannot be read: one line, as every command says it
                print(f"error: {e}", file=sys.stderr)
            else:
                print(e)
        if report.errors:
            if len(report.errors) >= args.max_errors:
                print(f"stopped after {args.max_errors} errors (--max-errors)", file=sys.stderr)
            return 1
        print(report.summary())
        return 0
    if args.data_command in ("show", "stats"):
        return _show_or_stats(args)
    if args.data_command == "generate":
        from sparkles_lite.lite.files import write_lite_dataset
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
    try:
        summary = generate_dialogues(images, pool[0], args.out, n_dialogues=args.n_dialogues,
                                     n_candidates=args.n_candidates, seed=args.seed, config=config,
                                     rejects_path=args.rejects)
    except RuntimeError as e:  # a remote LLM without a key: nothing was sent
        print(f"data llm-generate: {e}", file=sys.stderr)
        return 2
    print(summary)
    return 0 if summary.accepted or summary.skipped else 1


def _show_or_stats(args: argparse.Namespace) -> int:
    from sparkles_lite.data.browse import write_dataset_page
    from sparkles_lite.data.stats import dataset_stats, format_stats, plot_stats

    try:
        if args.data_command == "show":
            if args.first < 1:
                print("data show: --first must be >= 1", file=sys.stderr)
                return 2
            print(f"wrote {write_dataset_page(args.path, args.out, args.images, args.first)}")
            return 0
        stats = dataset_stats(args.path)
    except DataFormatError as e:
        print(f"data {args.data_command}: {e} (`data validate` lists every problem)", file=sys.stderr)
        return 2
    print(format_stats(stats, args.top))
    if args.plot is not None:
        import matplotlib
        matplotlib.use("Agg")
        fig = plot_stats(stats)
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return 0
