"""`python -m sparkles_lite chat`: talk to a model about several images.

One question:
    python -m sparkles_lite chat --images a.png b.png c.png \\
        --message "Which of IMAGE#1 and IMAGE#3 has more objects?"

Without --message: an interactive multi-turn loop on stdin (/image PATH, /clear, /quit).
"""

from __future__ import annotations

import argparse
import sys

from sparkles_lite.chat import Answer, Chat, ChatError, load_image
from sparkles_lite.device import add_device_arguments

MODEL_ALIASES = {"lite": "sparkleschat-lite"}
HELP_TEXT = "commands: /image PATH (add an image), /clear (new conversation), /quit; anything else is a question"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="lite",
                        help="'lite' (= the shipped sparkleschat-lite), a shipped model name (sparkleschat-lite, "
                             "minigpt4-lite, control-lite) or a saved model directory (default: lite)")
    parser.add_argument("--images", nargs="*", default=[], metavar="PATH",
                        help="image files, referred to as IMAGE#1, IMAGE#2, ... in the order given")
    parser.add_argument("--message", default=None,
                        help="one question; prints the reply and exits (without it: interactive chat)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (with --sample)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (with --sample)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for --sample")
    add_device_arguments(parser)


def generation_settings(args: argparse.Namespace) -> dict:
    return dict(max_new_tokens=args.max_new_tokens, do_sample=args.sample, temperature=args.temperature,
                top_p=args.top_p, seed=args.seed)


def load_model(name: str, device: str = "auto", dtype: str = "auto"):
    """The model on its device; what was chosen and why goes to stderr (stdout is the answers)."""
    from transformers.utils import logging as hf_logging

    from sparkles_lite.model.sparkles_chat import SparklesChat

    hf_logging.disable_progress_bar()  # no 'Loading weights' bar in a chat
    model = SparklesChat.from_pretrained(MODEL_ALIASES.get(name, name), device=device, dtype=dtype).eval()
    print(model.precision.describe(), file=sys.stderr)
    return model


def run(args: argparse.Namespace) -> int:
    if args.max_new_tokens < 1:
        return _fail("--max-new-tokens must be at least 1")
    if not 0 < args.top_p <= 1 or args.temperature <= 0:
        return _fail("--top-p must be in (0, 1] and --temperature positive")
    try:
        images = [load_image(p) for p in args.images]  # fail on a bad file before loading a model
    except ChatError as e:
        return _fail(str(e))
    try:
        model = load_model(args.model, args.device, args.dtype)
    except (OSError, LookupError, ValueError) as e:
        return _fail(f"cannot load model {args.model!r}: {' '.join(str(e).split())}")
    chat = Chat(model)
    for img in images:  # IMAGE#1, IMAGE#2, ... in the order of --images
        chat.add_image(img)
    if args.message is not None:
        try:
            chat.ask(args.message)
            print(chat.answer(**generation_settings(args)))
        except ChatError as e:
            return _fail(str(e))
        except ValueError as e:  # e.g. the question alone is longer than the model's context
            return _fail(str(e))
        return 0
    return interactive(chat, args)


def interactive(chat: Chat, args: argparse.Namespace) -> int:
    tty = sys.stdin.isatty()
    print(HELP_TEXT, file=sys.stderr)
    if chat.pending:
        print(f"images: {', '.join(chat.pending)}", file=sys.stderr)
    while True:
        if tty:
            print("you> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:  # end of input
            return 0
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/clear":
            chat.clear()
            print("(conversation cleared; images start again at IMAGE#1)", file=sys.stderr)
            continue
        if line.startswith("/image"):
            path = line[len("/image"):].strip()
            if not path:
                print("error: /image needs a file path", file=sys.stderr)
                continue
            try:
                print(f"added {chat.add_image(path)} ({path})")
            except ChatError as e:
                print(f"error: {e}", file=sys.stderr)
            continue
        if line.startswith("/"):
            print(f"error: unknown command {line.split()[0]!r}; {HELP_TEXT}", file=sys.stderr)
            continue
        try:
            chat.ask(line)
            reply = _answer(chat, args, stream=tty)
        except ValueError as e:  # ChatError and assembly errors: the conversation goes on
            print(f"error: {e}", file=sys.stderr)
            continue
        if not tty:
            print(reply, flush=True)
        if reply.forgotten:
            print(f"note: {reply.forgotten.note}", file=sys.stderr, flush=True)


def _answer(chat: Chat, args: argparse.Namespace, stream: bool) -> Answer:
    if not stream:
        return chat.answer(**generation_settings(args))
    shown = [""]

    def show(text: str) -> None:
        if text.startswith(shown[0]):
            print(text[len(shown[0]):], end="", flush=True)
            shown[0] = text

    print("model> ", end="", flush=True)
    reply = chat.answer(on_text=show, **generation_settings(args))
    print(reply[len(shown[0]):] if reply.startswith(shown[0]) else "\n" + reply, flush=True)
    return reply


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1
