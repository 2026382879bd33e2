"""The SparklesEval judge: a text-only LLM scores both answers of a 2-turn dialogue.

Two prompts (`JUDGE_PROTOCOLS`), both in this project's words:

* `paper`: what the paper's judge is given (`evaluate.py` in HYPJUDY/Sparkles): the images as ids
  with captions, the two questions and the model's two answers, no reference answers; the paper's
  three criteria, each 1-10 for A1 and A2, explanation first; its reply format
  (`* Evaluating A1` / `- (C1) Explanation: "..." Rating: [[9]]` / `Therefore, the overall rating of
  A1 is [[9]]`); asked as the paper asks (system "You are a helpful assistant.", temperature 1.0,
  up to 1024 reply tokens).
* `reference` (this project's addition, the default): also gives the reference answers when the data
  has them, states the criteria more concretely, and asks for one machine-readable line per score:

    A<answer 1|2> C<criterion 1|2|3> Rating: [[<integer 1-10>]] <one-sentence explanation>

`parse_ratings` reads either reply format, the paper's exactly as the official parser does (decimals,
no range check); scores are floats. An answer's score is the mean of its three criteria and the
overall score the mean of A1 and A2, as in the paper (the judge's own "overall rating" line is
required, as there, and kept, but not used).

Every request/response is cached on disk, keyed by sha256 of (model, prompt, temperature,
repeat index), so re-running an evaluation costs nothing. Waiting is bounded: each request may take
`timeout_s` seconds, and a judgment sends at most `max_attempts` requests whatever goes wrong (a
timeout, a lost connection, HTTP 408/409/429/5xx, a reply that cannot be read), with backoff between
them; so one judgment costs at most `worst_case_s(timeout_s, max_attempts, backoff_s)`. A judgment
that still has no readable reply is recorded as a failure, never as a score.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import openai

from sparkles_lite.data.schema import IMAGE_ID
from sparkles_lite.eval.protocols import write_json
from sparkles_lite.openai_client import UnreadableReply, make_client, reply_text

JUDGE_PROTOCOLS: tuple[str, ...] = ("reference", "paper")
CRITERIA: dict[str, str] = {
    "C1": "Image understanding and reasoning: are the facts the answer states about each image correct, "
          "and is its reasoning about them sound?",
    "C2": "Cross-image and cross-turn coherence: does it refer to the right images by their IMAGE# ids, "
          "keep the images apart, and stay consistent with the earlier turn and the images shown there?",
    "C3": "Relevance and completeness: does it answer what was asked, covering every image the question "
          "is about, without padding?",
}
# The paper's criteria, in this project's words.
PAPER_CRITERIA: dict[str, str] = {
    "C1": "Image Understanding and Reasoning: how accurately the assistant recognises and describes the objects, "
          "the context and the relations within each image and between the images.",
    "C2": "Cross-Image and Cross-Turn Coherence: whether the assistant's understanding stays consistent across "
          "the several images and across the two turns of the conversation.",
    "C3": "Relevance and Completeness of Responses: whether the answers address what the user asked and what the "
          "images show, and whether they answer it thoroughly and in detail.",
}
ANSWERS = ("A1", "A2")
SCORE_KEYS: tuple[str, ...] = tuple(f"{a} {c}" for a in ANSWERS for c in CRITERIA)
SYSTEM_PROMPT = "You are a careful, impartial judge of answers about images. Follow the rating format exactly."
PAPER_SYSTEM_PROMPT = "You are a helpful assistant."  # the official judge call's system message
# How each protocol asks: the system message, sampling temperature and reply budget.
JUDGE_SETTINGS: dict[str, dict[str, Any]] = {
    "reference": {"system_prompt": SYSTEM_PROMPT, "temperature": 0.0, "max_tokens": 400},
    "paper": {"system_prompt": PAPER_SYSTEM_PROMPT, "temperature": 1.0, "max_tokens": 1024},
}
_TAGS = ("images", "question_1", "reference_answer_1", "answer_1", "question_2", "reference_answer_2", "answer_2")
_RATING_LINE = re.compile(r"^\W*A\s*([12])\s*C\s*([123])\b\W*rating[\s:*]*(.*)$", re.IGNORECASE)
_WELL_FORMED = re.compile(r"^\s*\[\[\s*([^\[\]]*?)\s*\]\]\s*(.*)$")
# The paper's reply format, read with the official parser's rules: the reply is cut at each
# "Evaluating <name>"; in each piece the first "(Cj) ... Rating: n" (n may be bracketed, may have
# decimals) scores criterion j; there must be two per criterion, the first for A1. "rating of A1 is n"
# and "rating of A2 is n" must appear too.
_PAPER_SECTION = re.compile(r"Evaluating [A-Za-z0-9]+")
_PAPER_NUMBER = r"\[{0,2}(\d+(?:\.\d*)?)"
_PAPER_REPLY = ("* Evaluating {a}\n"
                "- (C1) Explanation: \"{e1}\" Rating: [[{s1}]]\n"
                "- (C2) Explanation: \"{e2}\" Rating: [[{s2}]]\n"
                "- (C3) Explanation: \"{e3}\" Rating: [[{s3}]]\n"
                "Therefore, the overall rating of {a} is [[{overall}]]")


@dataclass
class JudgeInput:
    """What the judge sees: images as (id, caption), 2 questions, 2 answers, optional references."""

    images: list[tuple[str, str]]
    questions: list[str]
    answers: list[str]
    references: list[str] | None = None


def build_judge_prompt(x: JudgeInput, protocol: str = "reference") -> str:
    """The judge prompt of a protocol; `parse_judge_prompt` reads it back (the offline judge relies on that)."""
    if protocol not in JUDGE_PROTOCOLS:
        raise ValueError(f"unknown judge protocol {protocol!r}; expected one of {JUDGE_PROTOCOLS}")
    if len(x.questions) != 2 or len(x.answers) != 2 or (x.references is not None and len(x.references) != 2):
        raise ValueError("the judge scores 2-turn dialogues: give 2 questions, 2 answers (and 2 references)")
    if protocol == "paper":
        return _paper_prompt(x)
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


def _paper_prompt(x: JudgeInput) -> str:
    """The paper's judge request in this project's words: no reference answers, its criteria and reply format."""
    if x.references is not None:
        raise ValueError("the paper's judge reads no reference answers: pass references=None")
    images = json.dumps([{"image_id": i, "caption": c} for i, c in x.images], ensure_ascii=False)
    return "\n".join([
        "A user talks with a conversational assistant about several images over two turns of one conversation. "
        "The assistant should understand the images, analyse them and reason about them, and give helpful, "
        "detailed answers with thorough reasoning about what the images show.",
        "",
        "The images, each as its id and a caption:",
        _block("images", images),
        "",
        "The conversation (Q1, then the assistant's A1, then Q2 and A2):",
        _block("question_1", x.questions[0]),
        _block("answer_1", x.answers[0]),
        _block("question_2", x.questions[1]),
        _block("answer_2", x.answers[1]),
        "",
        "As an impartial judge, rate the assistant's answers A1 and A2 separately on three criteria, each on a "
        "scale of 1 to 10, where higher is better:",
        *(f"({c}) {text}" for c, text in PAPER_CRITERIA.items()),
        "",
        "For each criterion, first explain briefly and objectively, then rate. Reply in exactly this format, "
        "with your explanation in place of \"...\" and your rating in place of 5:",
        "```",
        _PAPER_REPLY.format(a="A1", e1="...", e2="...", e3="...", s1=5, s2=5, s3=5, overall=5),
        "",
        _PAPER_REPLY.format(a="A2", e1="...", e2="...", e3="...", s1=5, s2=5, s3=5, overall=5),
        "```",
    ])


def judge_prompt_protocol(prompt: str) -> str:
    """Which protocol wrote a prompt: the reply format it asks for tells."""
    return "paper" if "* Evaluating A1" in prompt else "reference"


def parse_judge_prompt(prompt: str) -> JudgeInput:
    """Inverse of `build_judge_prompt` (either protocol); raises ValueError naming what is missing."""
    found = {}
    for tag in _TAGS:
        m = re.search(rf"^<{tag}>\n(.*?)\n?</{tag}>$", prompt, re.DOTALL | re.MULTILINE)
        if m:
            found[tag] = m.group(1)
    missing = [t for t in _TAGS if t not in found and not t.startswith("reference")]
    if missing:
        raise ValueError(f"not a judge prompt: missing <{'>, <'.join(missing)}>")
    images = []
    if found["images"].startswith("["):
        try:
            images = [(str(d["image_id"]), str(d["caption"])) for d in json.loads(found["images"])]
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"bad image list in judge prompt: {e}") from e
    for line in [] if images else found["images"].splitlines():
        m = re.match(rf"^IMAGE#({IMAGE_ID}):\s?(.*)$", line)
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


def format_paper_reply(scores: dict[str, tuple[float, str]]) -> str:
    """A reply in the paper's format from {'A1 C1': (score, explanation), ...}; each overall rating is the
    mean of its three criteria, to two decimals (as a judge might write it)."""
    sections = []
    for a in ANSWERS:
        values = [scores[f"{a} {c}"] for c in CRITERIA]
        overall = round(sum(v for v, _ in values) / len(values), 2)
        sections.append(_PAPER_REPLY.format(a=a, overall=_number(overall), **{
            f"{kind}{k + 1}": (_number(v) if kind == "s" else _one_line(why).replace('"', "'"))
            for k, (v, why) in enumerate(values) for kind in ("s", "e")}))
    return "\n\n".join(sections)


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# ---------------------------------------------------------------- reading replies

@dataclass
class RatingParse:
    """Scores read from a reply; `ok` only when all six are present and valid. `stated_overall`: the
    judge's own overall rating per answer (the paper's format asks for it; it does not enter the score)."""

    scores: dict[str, float]
    explanations: dict[str, str]
    errors: list[str]
    stated_overall: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and set(self.scores) == set(SCORE_KEYS)

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None


def parse_ratings(reply: str) -> RatingParse:
    """Read a judge's reply in either format: the paper's (`* Evaluating A1` ...) when it has its
    markers, else the project's lines."""
    reply = reply or ""
    if _PAPER_SECTION.search(reply) or re.search(r"rating of A[12] is", reply):
        return parse_paper_ratings(reply)
    return parse_project_ratings(reply)


def parse_paper_ratings(reply: str) -> RatingParse:
    """The paper's format, read by the official parser's rules (see `_PAPER_SECTION`): decimals allowed,
    no range check, and a reply it would refuse (and re-ask) is refused here, naming what is missing."""
    errors: list[str] = []
    stated: dict[str, float] = {}
    for a in ANSWERS:
        found = re.findall(rf"rating of {a} is {_PAPER_NUMBER}", reply)
        if found:
            stated[a] = float(found[0])
        else:
            errors.append(f"no 'overall rating of {a} is [[n]]' line")
    scores: dict[str, float] = {}
    explanations: dict[str, str] = {}
    pieces = _PAPER_SECTION.split(reply)
    for c in CRITERIA:
        hits = [m for m in (re.search(rf"\({c}\)(.*?)Rating: {_PAPER_NUMBER}", p, re.DOTALL) for p in pieces) if m]
        if len(hits) != len(ANSWERS):
            errors.append(f"({c}) is rated {len(hits)} time(s), expected once per answer")
            continue
        for a, m in zip(ANSWERS, hits):
            scores[f"{a} {c}"] = float(m.group(2))
            explanations[f"{a} {c}"] = _one_line(m.group(1)).removeprefix("Explanation:").strip(" \"'")
    if errors:
        return RatingParse({}, {}, errors, stated)
    return RatingParse({k: scores[k] for k in SCORE_KEYS}, explanations, [], stated)


def parse_project_ratings(reply: str) -> RatingParse:
    """Read `A<i> C<j> Rating: [[n]]` lines strictly: a score without [[ ]], not an integer,
    outside 1-10, given twice with different values, or missing is an error (named in `errors`)."""
    scores: dict[str, float] = {}
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
        value = float(raw)
        if not 1 <= value <= 10:
            errors.append(f"{key}: rating {int(value)} is outside 1-10")
            continue
        if key in scores and scores[key] != value:
            errors.append(f"{key}: rated twice ({int(scores[key])} and {int(value)})")
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
    scores: dict[str, float] | None
    explanations: dict[str, str]
    reply: str | None
    error: str | None
    attempts: int
    cached: bool
    repeat: int = 0
    stated_overall: dict[str, float] = field(default_factory=dict)  # the paper format's own overall lines

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


RETRYABLE_STATUS = (408, 409, 429)  # and every 5xx: what may pass on a second try


def worst_case_s(timeout_s: float, max_attempts: int, backoff_s: float = 1.0) -> float:
    """The longest one judgment can take: every attempt waits its full timeout, with the backoff
    (backoff_s, 2 backoff_s, 4 backoff_s, ...) between attempts."""
    return max_attempts * timeout_s + backoff_s * (2 ** (max_attempts - 1) - 1)


@dataclass
class Judge:
    """An OpenAI-compatible judge with a disk cache. Each request waits at most `timeout_s`; a judgment
    sends at most `max_attempts` requests (the client itself retries nothing), `backoff_s` doubling
    between them. `JUDGE_SETTINGS[protocol]` holds each protocol's system prompt, temperature and
    max_tokens."""

    model: str
    cache_dir: str | Path
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    temperature: float = 0.0
    max_tokens: int = 400
    max_attempts: int = 3  # requests per judgment, whatever went wrong
    backoff_s: float = 1.0
    system_prompt: str = SYSTEM_PROMPT
    client: Any = field(default=None, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.cache_dir = Path(self.cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if self.client is None:
            self.client = make_client(self.base_url, self.api_key, max_retries=0, timeout_s=self.timeout_s)

    def cache_key(self, prompt: str, repeat: int = 0) -> str:
        fields = {"model": self.model, "prompt": prompt, "temperature": self.temperature, "repeat": repeat,
                  "system": self.system_prompt}
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
                    chars += len(self.system_prompt) + len(p)
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
                                len(entry["attempts"]), True, repeat, parsed.stated_overall)
        messages = [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": prompt}]
        attempts: list[dict[str, Any]] = []
        reply, parsed, error = None, None, None
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                reply = reply_text(self.client.chat.completions.create(
                    model=self.model, messages=messages, temperature=self.temperature, max_tokens=self.max_tokens))
            except (openai.APIError, UnreadableReply) as e:
                error = f"{type(e).__name__}: {e}"
                attempts.append({"reply": None, "error": error})
                status = getattr(e, "status_code", None)
                if status is not None and status < 500 and status not in RETRYABLE_STATUS:
                    break  # a bad request or a wrong key: asking again changes nothing
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
            return Judgment(True, parsed.scores, parsed.explanations, reply, None, len(attempts), False, repeat,
                            parsed.stated_overall)
        return Judgment(False, None, {}, reply, error, len(attempts), False, repeat)
