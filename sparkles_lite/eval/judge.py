"""The SparklesEval judge: a text-only LLM scores both answers of a 2-turn dialogue.

The prompt (in our words, after the paper's three criteria) gives each image as
`IMAGE#id: caption`, the questions, the model's answers and, when known, reference answers.
The judge replies with one machine-readable line per score:

    A<answer 1|2> C<criterion 1|2|3> Rating: [[<integer 1-10>]] <one-sentence explanation>

Every request/response is cached on disk, keyed by sha256 of (model, prompt, temperature,
repeat index), so re-running an evaluation costs nothing. A reply that cannot be read is
retried a bounded number of times and, if still unreadable, recorded as a failure, never as a
score.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import openai

from sparkles_lite.eval.protocols import write_json

CRITERIA: dict[str, str] = {
    "C1": "Image understanding and reasoning: are the facts the answer states about each image correct, "
          "and is its reasoning about them sound?",
    "C2": "Cross-image and cross-turn coherence: does it refer to the right images by their IMAGE# ids, "
          "keep the images apart, and stay consistent with the earlier turn and the images shown there?",
    "C3": "Relevance and completeness: does it answer what was asked, covering every image the question "
          "is about, without padding?",
}
ANSWERS = ("A1", "A2")
SCORE_KEYS: tuple[str, ...] = tuple(f"{a} {c}" for a in ANSWERS for c in CRITERIA)
SYSTEM_PROMPT = "You are a careful, impartial judge of answers about images. Follow the rating format exactly."
_TAGS = ("images", "question_1", "reference_answer_1", "answer_1", "question_2", "reference_answer_2", "answer_2")
_RATING_LINE = re.compile(r"^\W*A\s*([12])\s*C\s*([123])\b\W*rating[\s:*]*(.*)$", re.IGNORECASE)
_WELL_FORMED = re.compile(r"^\s*\[\[\s*([^\[\]]*?)\s*\]\]\s*(.*)$")


@dataclass
class JudgeInput:
    """What the judge sees: images as (id, caption), 2 questions, 2 answers, optional references."""

    images: list[tuple[str, str]]
    questions: list[str]
    answers: list[str]
    references: list[str] | None = None


def build_judge_prompt(x: JudgeInput) -> str:
    """The judge prompt; `parse_judge_prompt` reads it back (the offline judge relies on that)."""
    if len(x.questions) != 2 or len(x.answers) != 2 or (x.references is not None and len(x.references) != 2):
        raise ValueError("the judge scores 2-turn dialogues: give 2 questions, 2 answers (and 2 references)")
    refs = x.references is not None
    lines = [
        "Judge an AI assistant's two answers in a conversation about several images. You cannot see the "
        "images; each is given by a caption. A1 answers Question 1; A2 answers Question 2, which follows "
        "A1 in the same conversation.",
        "Score each answer on three criteria, from 1 (worst) to 10 (best):",
        *(f"{c} {text}" for c, text in CRITERIA.items()),
    ]
    if refs:
        lines.append("Reference answers show what a good answer contains; judge content, not wording.")
    images = "\n".join(f"IMAGE#{i}: {_one_line(c)}" for i, c in x.images)
    lines.append(_block("images", images))
    for t in (0, 1):
        lines.append(_block(f"question_{t + 1}", x.questions[t]))
        if refs:
            lines.append(_block(f"reference_answer_{t + 1}", x.references[t]))
        lines.append(_block(f"answer_{t + 1}", x.answers[t]))
    lines.append("Reply with exactly these six lines, in this order, each followed by a one-sentence explanation "
                 "(replace n by an integer from 1 to 10):")
    lines += [f"{k} Rating: [[n]] <explanation>" for k in SCORE_KEYS]
    return "\n".join(lines)


def parse_judge_prompt(prompt: str) -> JudgeInput:
    """Inverse of `build_judge_prompt`; raises ValueError naming what is missing."""
    found = {}
    for tag in _TAGS:
        m = re.search(rf"^<{tag}>\n(.*?)\n?</{tag}>$", prompt, re.DOTALL | re.MULTILINE)
        if m:
            found[tag] = m.group(1)
    missing = [t for t in _TAGS if t not in found and not t.startswith("reference")]
    if missing:
        raise ValueError(f"not a judge prompt: missing <{'>, <'.join(missing)}>")
    images = []
    for line in found["images"].splitlines():
        m = re.match(r"^IMAGE#([A-Za-z0-9_\-]+):\s?(.*)$", line)
        if not m:
            raise ValueError(f"bad image line in judge prompt: {line!r}")
        images.append((m.group(1), m.group(2)))
    refs = None
    if "reference_answer_1" in found or "reference_answer_2" in found:
        refs = [found.get("reference_answer_1", ""), found.get("reference_answer_2", "")]
    return JudgeInput(images, [found["question_1"], found["question_2"]],
                      [found["answer_1"], found["answer_2"]], refs)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _block(tag: str, text: str) -> str:
    for t in _TAGS:  # neutralise our own delimiters inside free text
        text = text.replace(f"<{t}>", f"‹{t}›").replace(f"</{t}>", f"‹/{t}›")
    return f"<{tag}>\n{text}\n</{tag}>"


def format_rating(key: str, score: int, explanation: str) -> str:
    """One reply line, e.g. 'A1 C2 Rating: [[7]] refers to the right images.'"""
    if key not in SCORE_KEYS or not 1 <= int(score) <= 10:
        raise ValueError(f"bad rating {key!r}={score!r}")
    return f"{key} Rating: [[{int(score)}]] {_one_line(explanation)}"


# ---------------------------------------------------------------- reading replies

@dataclass
class RatingParse:
    """Scores read from a reply; `ok` only when all six are present and valid."""

    scores: dict[str, int]
    explanations: dict[str, str]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors and set(self.scores) == set(SCORE_KEYS)

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None


def parse_ratings(reply: str) -> RatingParse:
    """Read `A<i> C<j> Rating: [[n]]` lines strictly: a score without [[ ]], not an integer,
    outside 1-10, given twice with different values, or missing is an error (named in `errors`)."""
    scores: dict[str, int] = {}
    explanations: dict[str, str] = {}
    errors: list[str] = []
    for line in (reply or "").splitlines():
        m = _RATING_LINE.match(line.strip())
        if not m:
            continue
        key, rest = f"A{m.group(1)} C{m.group(2)}", m.group(3)
        wf = _WELL_FORMED.match(rest)
        if not wf:
            errors.append(f"{key}: rating not in [[n]] form: {rest.strip()[:40]!r}")
            continue
        raw, why = wf.group(1), wf.group(2).strip()
        if not re.fullmatch(r"\d+", raw):
            errors.append(f"{key}: rating {raw!r} is not an integer")
            continue
        value = int(raw)
        if not 1 <= value <= 10:
            errors.append(f"{key}: rating {value} is outside 1-10")
            continue
        if key in scores and scores[key] != value:
            errors.append(f"{key}: rated twice ({scores[key]} and {value})")
            continue
        scores[key] = value
        explanations[key] = why
    missing = [k for k in SCORE_KEYS if k not in scores and not any(e.startswith(k + ":") for e in errors)]
    if missing:
        errors.append("missing " + ", ".join(missing))
    return RatingParse(scores, explanations, errors)


# ---------------------------------------------------------------- client

@dataclass
class Judgment:
    """One judge verdict. `scores` is None when the judgment failed (then `error` says why)."""

    ok: bool
    scores: dict[str, int] | None
    explanations: dict[str, str]
    reply: str | None
    error: str | None
    attempts: int
    cached: bool
    repeat: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CostEstimate:
    """Rough cost of the uncached requests: tokens ≈ characters / 4."""

    requests: int
    cached: int
    prompt_tokens: int
    reply_tokens: int
    usd: float

    def __str__(self) -> str:
        return (f"{self.requests} judge requests ({self.cached} cached, free), ~{self.prompt_tokens + self.reply_tokens:,} "
                f"tokens, ~${self.usd:.2f}")


class _BadReply(Exception):
    """The API answered, but not with a usable chat completion."""


@dataclass
class Judge:
    """An OpenAI-compatible judge with a disk cache and bounded, backed-off retries."""

    model: str
    cache_dir: str | Path
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.0
    max_attempts: int = 4
    backoff_s: float = 1.0
    max_tokens: int = 400
    timeout_s: float = 120.0
    client: Any = field(default=None, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.cache_dir = Path(self.cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if self.client is None:
            key = self.api_key or os.environ.get("OPENAI_API_KEY")
            if not key:
                if not _is_loopback_url(self.base_url):
                    raise RuntimeError("set OPENAI_API_KEY (or pass api_key) to use a remote judge")
                key = "sk-loopback-no-key"
            self.client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=self.timeout_s)

    def cache_key(self, prompt: str, repeat: int = 0) -> str:
        fields = {"model": self.model, "prompt": prompt, "temperature": self.temperature, "repeat": repeat}
        return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _cache_path(self, prompt: str, repeat: int) -> Path:
        return self.cache_dir / f"{self.cache_key(prompt, repeat)}.json"

    def is_cached(self, prompt: str, repeat: int = 0) -> bool:
        """True when a successful judgment for this request is on disk."""
        path = self._cache_path(prompt, repeat)
        return path.exists() and json.loads(path.read_text(encoding="utf-8")).get("ok", False)

    def estimate_cost(self, prompts: Iterable[str], repeats: int = 1, price_per_1k_tokens: float = 0.03,
                      reply_tokens: int = 150) -> CostEstimate:
        """What judging `prompts` `repeats` times would cost, cached requests excluded."""
        todo = cached = chars = 0
        for p in prompts:
            for r in range(repeats):
                if self.is_cached(p, r):
                    cached += 1
                else:
                    todo += 1
                    chars += len(SYSTEM_PROMPT) + len(p)
        prompt_tokens = math.ceil(chars / 4)
        out_tokens = todo * reply_tokens
        return CostEstimate(todo, cached, prompt_tokens, out_tokens,
                            (prompt_tokens + out_tokens) / 1000 * price_per_1k_tokens)

    def judge(self, prompt: str, repeat: int = 0) -> Judgment:
        """Score one dialogue (from the cache when already judged successfully)."""
        path = self._cache_path(prompt, repeat)
        if path.exists():
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("ok"):
                parsed = parse_ratings(entry["reply"])
                return Judgment(True, parsed.scores, parsed.explanations, entry["reply"], None,
                                len(entry["attempts"]), True, repeat)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        attempts: list[dict[str, Any]] = []
        reply, parsed, error = None, None, None
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                reply = self._ask(messages)
            except (openai.APIError, _BadReply) as e:
                error = f"{type(e).__name__}: {e}"
                attempts.append({"reply": None, "error": error})
                if not _retryable(e):
                    break
                continue
            parsed = parse_ratings(reply)
            error = None if parsed.ok else f"unreadable ratings: {parsed.error}"
            attempts.append({"reply": reply, "error": error})
            if parsed.ok:
                break
        ok = parsed is not None and parsed.ok
        write_json(path, {"model": self.model, "temperature": self.temperature, "repeat": repeat,
                             "messages": messages, "attempts": attempts, "ok": ok, "reply": reply if ok else None})
        if ok:
            return Judgment(True, parsed.scores, parsed.explanations, reply, None, len(attempts), False, repeat)
        return Judgment(False, None, {}, reply, error, len(attempts), False, repeat)

    def _ask(self, messages: list[dict[str, str]]) -> str:
        resp = self.client.chat.completions.create(model=self.model, messages=messages,
                                                   temperature=self.temperature, max_tokens=self.max_tokens)
        choices = getattr(resp, "choices", None)
        if not choices:
            raise _BadReply("response has no choices")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            raise _BadReply("response has no message content")
        return content


def _retryable(e: Exception) -> bool:
    """Connection problems, rate limits, server errors and malformed replies may pass; a 4xx
    such as a bad request or a wrong key will not, so it fails at once."""
    if isinstance(e, openai.APIStatusError):
        return e.status_code in (408, 409, 429) or e.status_code >= 500
    return True


def _is_loopback_url(url: str | None) -> bool:
    host = urlparse(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

