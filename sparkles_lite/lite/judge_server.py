"""`python -m sparkles_lite judge-server`: the offline judge behind an OpenAI-compatible API.

The real judge client (`eval.judge.Judge`, the `openai` package) can then run SparklesEval on the
lite world with no API key and no network: point its base_url at this server. It binds only
to loopback addresses, since it is a local test double, not a service.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sparkles_lite.cli_types import port_number
from sparkles_lite.eval.judge import JUDGE_SETTINGS, Judge
from sparkles_lite.eval.runs import JudgeSetup
from sparkles_lite.lite.judge import judge_reply
from sparkles_lite.local_server import LoopbackServer, user_text

MODEL_ID = "sparkles-lite-offline-judge"


def answer(request: dict) -> str:
    """The offline judge's rating lines for the judge prompt in a chat request."""
    return judge_reply(user_text(request))


def make_server(host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> LoopbackServer:
    """Bind (not yet serving); port 0 picks a free port."""
    return LoopbackServer(answer, MODEL_ID, host, port, verbose=verbose, name="judge server")


def start_judge_server(port: int = 0, host: str = "127.0.0.1") -> tuple[LoopbackServer, str]:
    """Serve in a background thread; returns (server, base_url). Call `server.close()` when done."""
    server = make_server(host, port).start()
    return server, server.base_url


def offline_judge(out: str | Path, protocol: str = "reference", **options: Any) -> JudgeSetup:
    """The offline lite judge on a loopback port, with its cache in out/judge_cache: SparklesEval with
    no API key, no network and no cost, through the same client path as a GPT judge; asked with
    `protocol`'s system prompt, temperature and reply budget (`judge.JUDGE_SETTINGS`); `options`: the
    `Judge`'s (timeout_s, max_attempts)."""
    server, base_url = start_judge_server()
    judge = Judge(model=MODEL_ID, cache_dir=Path(out) / "judge_cache", base_url=base_url,
                  **JUDGE_SETTINGS[protocol], **options)
    return JudgeSetup(judge, f"the offline lite judge, started at {base_url} (model {MODEL_ID}); "
                             "no API key, no network, no cost", offline=True, server=server)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_number, default=8765, help="port to listen on (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (others are refused)")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    server = make_server(args.host, args.port, args.verbose)
    print(f"offline judge serving at {server.base_url} (model {MODEL_ID}); Ctrl-C to stop", flush=True)
    server.serve_forever()
    return 0
