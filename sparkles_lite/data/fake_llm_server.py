"""A tiny OpenAI-compatible chat server on 127.0.0.1 that answers from a script, for tests and demos.

No network, no model: each POST /v1/chat/completions pops the next scripted reply (a
`local_server.Reply`: a string sent as the assistant's content, a dict sent verbatim as the JSON
body, e.g. ``{}``, or an int, an HTTP error status such as 429). When the script runs out,
``default`` (a function of the request body) answers; `template_reply` writes a valid dialogue over
the prompt's images.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from typing import Any, Callable

from sparkles_lite.data.schema import IMAGE_ID
from sparkles_lite.local_server import LoopbackServer, Reply

_CANDIDATE_RE = re.compile(rf"^IMAGE#({IMAGE_ID}): ", re.MULTILINE)


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


class FakeLLMServer(LoopbackServer):
    """`with FakeLLMServer(["reply", 429, {}]) as srv: OpenAI(base_url=srv.base_url, ...)`.

    A scripted error asks the client to retry after 1 ms, so retries cost a test no time. `options`:
    `LoopbackServer`'s (timeout_s, workers).
    """

    def __init__(self, replies: list[Reply] | None = None,
                 default: Callable[[dict], Reply] = template_reply, **options: Any) -> None:
        self.script: deque[Reply] = deque(replies or [])
        self.default = default
        self.requests: list[dict] = []  # every request body received, for assertions
        self._lock = threading.Lock()
        super().__init__(self.next_reply, model_id="fake-llm", retry_after_ms=1, name="fake LLM server", **options)

    def next_reply(self, request: dict) -> Reply:
        with self._lock:
            self.requests.append(request)
            return self.script.popleft() if self.script else self.default(request)
