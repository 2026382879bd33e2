"""A tiny OpenAI-compatible chat server on 127.0.0.1 that answers from a script, for tests and demos.

No network, no model: each POST /v1/chat/completions pops the next scripted reply. A reply is a
string (sent as the assistant's content), a dict (sent verbatim as the JSON body, e.g. ``{}``)
or an int (an HTTP error status, e.g. 429). When the script runs out, ``default`` (a function
of the request body) answers; `template_reply` writes a valid dialogue over the prompt's images.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from sparkles_lite.local_server import completion_body, send_json

Reply = str | dict | int
_CANDIDATE_RE = re.compile(r"^IMAGE#([A-Za-z0-9_\-]+): ", re.MULTILINE)


def template_reply(request: dict) -> str:
    """A plausible two-turn dialogue over the first three candidate images named in the prompt.

    Candidates are read from lines `IMAGE#<id>: <caption>` (the generator's prompt format).
    """
    prompt = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
    ids = list(dict.fromkeys(_CANDIDATE_RE.findall(prompt)))[:3]
    if len(ids) < 2:
        return "I need at least two candidate images."
    first, second = (ids[:2], ids[2:3]) if len(ids) >= 3 else (ids[:1], ids[1:2])
    user1 = "What do " + " and ".join(f"IMAGE#{i}" for i in first) + " have in common?"
    user2 = "How does " + " and ".join(f"IMAGE#{i}" for i in second) + " change your answer?"
    dialogue = [
        {"role": "user", "image_ids": first, "content": user1},
        {"role": "assistant", "content": "Both pictures share a clear main subject against a simple background."},
        {"role": "user", "image_ids": second, "content": user2},
        {"role": "assistant", "content": f"Looking at IMAGE#{second[0]} as well, the common thread is still there."},
    ]
    return json.dumps({"dialogue": dialogue})


class FakeLLMServer:
    """Context manager: `with FakeLLMServer(["reply", 429, {}]) as srv: OpenAI(base_url=srv.base_url, ...)`."""

    def __init__(self, replies: list[Reply] | None = None,
                 default: Callable[[dict], Reply] = template_reply) -> None:
        self.script: deque[Reply] = deque(replies or [])
        self.default = default
        self.requests: list[dict] = []  # every request body received, for assertions
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def next_reply(self, request: dict) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self.script.popleft() if self.script else self.default(request)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length", 0))
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    request = {}
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                reply = server.next_reply(request)
                if isinstance(reply, int):
                    return self._send(reply, {"error": {"message": f"scripted HTTP {reply}", "type": "fake"}})
                body = reply if isinstance(reply, dict) else completion_body(reply, request.get("model", "fake-llm"))
                self._send(200, body)

            def _send(self, status: int, body: dict) -> None:
                send_json(self, status, body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "FakeLLMServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
