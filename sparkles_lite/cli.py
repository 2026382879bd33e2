"""`python -m sparkles_lite <command>`: one sub-command per module, imported only when used.

An expected error (bad data, a bad image, a bad flag, a missing model, a folder of another run) ends
a command with one line, `error: <what> (<file, id or flag>)`, and a non-zero exit status, never a
traceback; `python -m sparkles_lite --debug <command> ...` shows the traceback instead.
"""

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


# What users can cause (and fix): said in one line. Anything else is a bug: said in one line too,
# with its type and a pointer to --debug.
EXPECTED_ERRORS = (ValueError, OSError, LookupError, RecursionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparkles-lite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def describe(error: BaseException) -> str:
    """One line saying what went wrong; the messages of the package's own errors name the file, id or flag."""
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to read (RecursionError)"
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.strerror} ({error.filename})"
    elif isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    else:
        text = str(error)
    text = " ".join(text.split()) or type(error).__name__
    if not isinstance(error, EXPECTED_ERRORS):
        text = f"{type(error).__name__}: {text} (unexpected: `python -m sparkles_lite --debug ...` shows the traceback)"
    return text


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(argv) and argv[0] == "--debug"
    command = argv[1:] if debug else argv
    if not command or command[0] not in COMMANDS:
        build_parser().parse_args(argv)  # prints usage / error and exits
        return 2
    name, rest = command[0], command[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"sparkles-lite {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    args.command = "python -m sparkles_lite " + shlex.join(command)  # recorded in training metrics
    try:
        return int(module.run(args) or 0)
    except Exception as error:  # noqa: BLE001 - every error becomes one line unless --debug
        if debug:
            raise
        print(f"error: {describe(error)}", file=sys.stderr)
        return 2
