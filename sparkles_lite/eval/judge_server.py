"""`python -m sparkles_lite judge-server`: the offline judge behind an OpenAI-compatible API.

The real judge client (`judge.Judge`, the `openai` package) can then run SparklesEval on the
lite world with no API key and no network: point its base_url at this server. It binds only
to loopback addresses, since it is a local test double, not a service.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sparkles_lite.eval.offline_judge import judge_reply
from sparkles_lite.local_server import completion_body, send_json

MODEL_ID = "sparkles-lite-offline-judge"
MAX_BODY_BYTES = 10 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    server_version = "SparklesLiteJudge/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _send(self, status: int, body: dict) -> None:
        send_json(self, status, body)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [
                {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "sparkles-lite"}]})
        else:
            self._error(404, f"no route GET {self.path}", "not_found_error")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route POST {self.path}", "not_found_error")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY_BYTES:
            self._error(400, f"need a JSON body with a Content-Length of 1-{MAX_BODY_BYTES} bytes")
            return
        try:
            request = json.loads(self.rfile.read(length))
            prompt = _last_user_text(request)
            reply = judge_reply(prompt)
        except ValueError as e:  # also json.JSONDecodeError
            self._error(400, str(e))
            return
        except Exception as e:  # a judge bug: answer with a JSON error, never a dropped connection
            self._error(500, f"{type(e).__name__}: {e}", "server_error")
            return
        self._send(200, completion_body(reply, str(request.get("model") or MODEL_ID), prompt))


def _last_user_text(request: Any) -> str:
    if not isinstance(request, dict):
        raise ValueError("the request body must be a JSON object")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise ValueError("no user message")
    content = users[-1].get("content")
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str) or not content.strip():
        raise ValueError("the last user message has no text")
    return content


class JudgeHTTPServer(ThreadingHTTPServer):
    """The HTTP server; `close()` stops serving, closes the socket and joins the thread."""

    daemon_threads = True
    verbose = False
    thread: threading.Thread | None = None

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)


def check_loopback(host: str) -> str:
    """The loopback IP for `host`; ValueError for anything that is not loopback."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise ValueError(f"cannot resolve host {host!r}: {e}") from e
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise ValueError(f"the judge server binds only to loopback addresses; {host!r} is {sorted(addresses)}")
    return sorted(addresses, key=lambda a: ":" in a)[0]  # prefer IPv4


def make_server(host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> JudgeHTTPServer:
    """Bind (not yet serving); port 0 picks a free port."""
    address = check_loopback(host)
    server_class = JudgeHTTPServer
    if ":" in address:
        server_class = type("JudgeHTTPServer6", (JudgeHTTPServer,), {"address_family": socket.AF_INET6})
    server = server_class((address, port), _Handler)
    server.verbose = verbose
    return server


def base_url(server: JudgeHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"


def start_judge_server(port: int = 0, host: str = "127.0.0.1") -> tuple[JudgeHTTPServer, str]:
    """Serve in a background thread; returns (server, base_url). Call `server.close()` when done."""
    server = make_server(host, port)
    server.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                     name="judge-server", daemon=True)
    server.thread.start()
    return server, base_url(server)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (others are refused)")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    try:
        server = make_server(args.host, args.port, args.verbose)
    except (ValueError, OSError) as e:
        print(f"judge-server: {e}")
        return 2
    print(f"offline judge serving at {base_url(server)} (model {MODEL_ID}); Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
