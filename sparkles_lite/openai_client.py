"""How the project talks to an OpenAI-compatible chat API (the SparklesEval judge, the LLM data
generator): the `openai` client, and a strict reading of its replies.

The client can retry what may pass on a second try by itself: connection errors and timeouts, and the
statuses 408, 409, 429 and 5xx, `max_retries` times with exponential backoff (honouring the server's
Retry-After); a caller that bounds its own attempts (the judge) sets `max_retries=0`. Any other error
(a bad request, a wrong key) fails at once. A URL is printed and written only through `redact_url`:
credentials in it (`http://user:key@host/v1`) never reach a terminal or a file. What the client does not
check is the reply: a `{}` body parses with `choices=None`, so `reply_text` checks every level and
raises `UnreadableReply`, which callers may retry themselves.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlparse, urlsplit, urlunsplit

import openai

LOOPBACK_KEY = "sk-loopback-no-key"  # a local server accepts any key


class UnreadableReply(ValueError):
    """The API answered, but not with a usable chat completion; the message says what is missing."""


def is_loopback_url(url: str | None) -> bool:
    """True for a URL on this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlparse(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact_url(url: str | None) -> str | None:
    """`url` with its credentials, if any, replaced: `http://user:key@host/v1` -> `http://***@host/v1`."""
    if not url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def make_client(base_url: str | None, api_key: str | None = None, max_retries: int = 2,
                timeout_s: float = 120.0) -> openai.OpenAI:
    """An `openai.OpenAI` client that retries transport errors `max_retries` times. The key: `api_key`,
    else $OPENAI_API_KEY, else (for a server on this machine only) a placeholder; a remote server
    without a key is a RuntimeError before anything is sent."""
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        if not is_loopback_url(base_url):
            raise RuntimeError(f"set OPENAI_API_KEY (or pass api_key) to use {redact_url(base_url) or 'the OpenAI API'}")
        key = LOOPBACK_KEY
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=max_retries, timeout=timeout_s)


def reply_text(completion: Any) -> str:
    """The assistant text of a chat completion, checking every level; UnreadableReply otherwise."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise UnreadableReply("reply has no choices")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        raise UnreadableReply("reply has no message content")
    if getattr(choices[0], "finish_reason", None) == "length":
        raise UnreadableReply("reply was cut off (finish_reason=length); raise max_tokens")
    return content
