"""`python -m sparkles_lite <command>`: one sub-command per module, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

# command -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("sparkles_lite.data.cli", "generate and validate SparklesDialogue-format data"),
    "pretrain": ("sparkles_lite.lite.pretrain", "pretrain a lite backbone (vision tower or LM)"),
    "train": ("sparkles_lite.train.cli", "stage 1 / stage 2 projection training"),
    "eval": ("sparkles_lite.eval.cli", "BISON, NLVR2 and SparklesEval"),
    "judge-server": ("sparkles_lite.lite.judge_server", "offline OpenAI-compatible judge for the lite world"),
    "chat": ("sparkles_lite.chat_cli", "chat with a model about several images"),
    "demo": ("sparkles_lite.demo", "the lite pipeline end to end"),
    "check": ("sparkles_lite.check", "is this machine ready for the lessons? OK/FAIL per line"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkles-lite", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints usage / error and exits
        return 2
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"sparkles-lite {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    args.command = "python -m sparkles_lite " + shlex.join(argv)  # recorded in training metrics
    return int(module.run(args) or 0)
