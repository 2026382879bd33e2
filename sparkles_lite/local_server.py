"""An OpenAI-compatible chat server on a loopback address, answering from a Python function.

The project's two local test doubles are this class with a different answer: the scripted fake LLM
for data generation (`data.fake_llm_server`) and the offline lite judge (`lite.judge_server`). The
real `openai` client talks to either exactly as it would to GPT. It binds only to loopback
addresses: a local double, not a service.

`answer(request)` receives the parsed request body and returns a reply: a string (sent as the
assistant's message), a dict (sent verbatim as the JSON body, e.g. ``{}``) or an int (an HTTP
error status, e.g. 429). A ValueError it raises is a 400 naming the problem; any other exception a
500, never a dropped connection.

Slow or broken clients cannot hold it: every connection has `timeout_s` to send its request (one
that announces more body than it sends gets a 408), and connections are served by a pool of
`workers` threads; more wait in line (the listen backlog holds 128), none gets a thread of its own.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

Reply = str | dict | int
MAX_BODY_BYTES = 10 * 1024 * 1024
TIMEOUT_S, WORKERS = 10.0, 8  # per connection; threads serving connections


class _PooledHTTPServer(HTTPServer):
    """An HTTPServer that serves each accepted connection on one of a fixed pool of threads."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: concurrent clients wait here instead of being reset

    def __init__(self, address: tuple, handler: type, workers: int) -> None:
        super().__init__(address, handler)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="loopback-worker")

    def process_request(self, request, client_address) -> None:
        future = self.pool.submit(self._serve, request, client_address)
        future.add_done_callback(lambda f: f.cancelled() and self.shutdown_request(request))

    def _serve(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - as socketserver does: log it, keep serving
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def check_loopback(host: str, what: str = "server") -> str:
    """The loopback IP for `host`; ValueError for anything that is not loopback."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise ValueError(f"cannot resolve host {host!r}: {e}") from e
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise ValueError(f"the {what} binds only to loopback addresses; {host!r} is {sorted(addresses)}")
    return sorted(addresses, key=lambda a: ":" in a)[0]  # prefer IPv4


def user_text(request: Any) -> str:
    """The text of the last user message of a chat request; ValueError naming what is missing."""
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


def completion_body(content: str, model: str, prompt: str = "") -> dict:
    """A well-formed chat.completion carrying `content`; token counts estimated at ~4 characters
    a token, so clients that log usage see plausible figures."""
    prompt_tokens, reply_tokens = len(prompt) // 4 + 1, len(content) // 4 + 1
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop",
                     "logprobs": None}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": reply_tokens,
                  "total_tokens": prompt_tokens + reply_tokens},
    }


class LoopbackServer:
    """`with LoopbackServer(answer, "model-id") as srv: OpenAI(base_url=srv.base_url, api_key="x")`.

    Binds at construction (port 0: any free port); `start()` serves in a background thread,
    `serve_forever()` in this one (a command-line server), `close()` stops, frees the port and joins.
    `retry_after_ms` is sent with error statuses: how long a retrying client should wait. Each
    connection has `timeout_s` to send its request; `workers` threads serve connections.
    """

    def __init__(self, answer: Callable[[dict], Reply], model_id: str, host: str = "127.0.0.1", port: int = 0,
                 verbose: bool = False, retry_after_ms: int | None = None, name: str = "loopback server",
                 timeout_s: float = TIMEOUT_S, workers: int = WORKERS) -> None:
        self.answer, self.model_id, self.verbose, self.retry_after_ms = answer, model_id, verbose, retry_after_ms
        self.name, self.timeout_s = name, timeout_s
        address = check_loopback(host, name)
        server_class = type("_HTTPServer", (_PooledHTTPServer,), {
            "address_family": socket.AF_INET6 if ":" in address else socket.AF_INET})
        self.httpd = server_class((address, port), _handler(self), workers)
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"

    def start(self) -> "LoopbackServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=self.name, daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C), then free the port."""
        try:
            self.httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "SparklesLite/1"
        timeout = server.timeout_s  # on the socket: a client that stops sending is dropped, not waited for

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            if server.verbose:
                super().log_message(format, *args)

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status >= 400 and server.retry_after_ms is not None:
                self.send_header("retry-after-ms", str(server.retry_after_ms))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
            self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [
                    {"id": server.model_id, "object": "model", "created": 0, "owned_by": "sparkles-lite"}]})
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
                body = self.rfile.read(length)
            except TimeoutError:
                self._error(408, f"the body did not arrive within {server.timeout_s:g} s "
                                 f"(Content-Length {length})", "timeout")
                self.close_connection = True
                return
            try:
                request = json.loads(body)
                reply = server.answer(request)
            except ValueError as e:  # also json.JSONDecodeError
                self._error(400, str(e))
                return
            except Exception as e:  # a bug in the answer: a JSON error, never a dropped connection
                self._error(500, f"{type(e).__name__}: {e}", "server_error")
                return
            if isinstance(reply, int):
                self._error(reply, f"HTTP {reply} (scripted)", "server_error" if reply >= 500 else "scripted_error")
            elif isinstance(reply, dict):
                self._send(200, reply)
            else:
                prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []) if isinstance(m, dict))
                self._send(200, completion_body(reply, str(request.get("model") or server.model_id), prompt))

    return Handler
