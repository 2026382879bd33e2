"""What the project's two loopback OpenAI-compatible servers share (the scripted fake LLM for
data generation, the offline judge): a chat.completion body and sending JSON."""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler


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


def send_json(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
