"""Generate SparklesDialogue-style data with an LLM, as the paper did with GPT-4.

The LLM sees captions of a few candidate images and one demonstration dialogue, and writes a
new two-turn dialogue over 2-4 of them. Its reply is checked strictly: the client library does
not validate responses, LLMs drift from any format, and a single misplaced placeholder would
teach the model to look at the wrong image. Replies are repaired where that is safe (missing
placeholders, stray whitespace in roles, image order) and otherwise rejected with a reason.
Accepted dialogues are appended to a JSONL file, so a long run can be resumed.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from openai import OpenAI

from sparkles_lite.data.io import append_jsonl, dialogue_to_dict, read_jsonl
from sparkles_lite.data.schema import (IMAGE_BLOCK, USER, Dialogue, ImageRef, Message, insert_placeholders,
                                       placeholder_ids, strip_placeholders)
from sparkles_lite.data.validate import dialogue_errors
from sparkles_lite.openai_client import UnreadableReply, make_client, reply_text


@dataclass
class GeneratorConfig:
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4"
    temperature: float = 0.7
    max_tokens: int = 2048
    api_key: str | None = None  # None: $OPENAI_API_KEY (a local server accepts any key)
    max_retries: int = 3  # the openai client's retries after a connection error / 408 / 409 / 429 / 5xx, backed off
    timeout_s: float = 120.0
    min_images: int = 2
    max_images: int = 4


class ReplyError(ValueError):
    """The LLM call or its reply is unusable; the message is the recorded rejection reason."""


# ---------------------------------------------------------------- prompt

def _reply_format_messages(d: Dialogue) -> list[dict]:
    """The demo in the reply format: ids listed per user message, no placeholders, last answer elided."""
    out = []
    for j, m in enumerate(d.messages):
        msg: dict[str, Any] = {"role": m.role}
        if m.role == USER:
            msg["image_ids"] = [r.image_id for r in m.images]
        msg["content"] = "..." if j == len(d.messages) - 1 else strip_placeholders(m.content)
        out.append(msg)
    return out


def build_prompt(candidates: list[ImageRef], demo: Dialogue, config: GeneratorConfig | None = None) -> str:
    """Instructions, one demonstration and the candidates' captions (one `IMAGE#<id>: <caption>` line each)."""
    config = config or GeneratorConfig()
    demo_json = json.dumps({"dialogue": _reply_format_messages(demo)}, indent=1, ensure_ascii=False)
    lines = "\n".join(f"IMAGE#{r.image_id}: {r.caption}" for r in candidates)
    return f"""You write conversations between a user and an assistant that can see several images at once \
and reason about them together: comparing them, connecting them, giving advice or creating text from them.

Here is one example conversation. Each user message lists in "image_ids" the images it brings in, \
and its text refers to every image as IMAGE#<id>. The example only shows the format; do not copy its topic.
```json
{demo_json}
```

These are the images you may use; each line gives an image id and what the image shows. \
The user and the assistant both see the images, so never speak of captions or descriptions, \
and the user should not describe the images in their questions.
{lines}

Write one new conversation of exactly four messages:
1. user: picks one to three of the images, lists them in "image_ids", and asks something creative that needs them.
2. assistant: a detailed, helpful answer grounded in what those images show.
3. user: brings in one or two further images (listed in "image_ids", not used before) and asks a follow-up \
that refers to both the new images and the earlier ones.
4. assistant: a detailed answer that reasons across all the images mentioned.
Use between {config.min_images} and {config.max_images} images in total, only from the list above.

Reply with a single JSON object and nothing else:
{{"dialogue": [{{"role": "user", "image_ids": ["<id>"], "content": "..."}}, {{"role": "assistant", "content": "..."}}, \
{{"role": "user", "image_ids": ["<id>"], "content": "..."}}, {{"role": "assistant", "content": "..."}}]}}"""


# ---------------------------------------------------------------- calling

def call_llm(client: OpenAI, prompt: str, config: GeneratorConfig) -> str:
    """The reply text. The client has retried transport errors (`config.max_retries` times, backed
    off); what is left, and a reply that cannot be read, is a ReplyError with the reason."""
    try:
        return reply_text(client.chat.completions.create(
            model=config.model, messages=[{"role": "user", "content": prompt}],
            temperature=config.temperature, max_tokens=config.max_tokens))
    except UnreadableReply as e:
        raise ReplyError(str(e)) from e
    except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as e:
        raise ReplyError(f"gave up after {config.max_retries + 1} attempts: {e}") from e
    except openai.APIStatusError as e:
        raise ReplyError(f"HTTP {e.status_code} from the LLM server: {e.message}") from e
    except openai.APIError as e:
        raise ReplyError(f"LLM call failed: {e}") from e


# ---------------------------------------------------------------- parsing and repair

def parse_reply(text: str) -> list[dict]:
    """The list of message objects in a reply: bare JSON, JSON in a code fence, or JSON amid prose."""
    cleaned = re.sub(r"```(?:json)?", "", text).strip()
    data: Any = None
    for candidate in (cleaned, cleaned[cleaned.find("{"):cleaned.rfind("}") + 1],
                      cleaned[cleaned.find("["):cleaned.rfind("]") + 1]):
        try:
            data = json.loads(candidate)
            break
        except json.JSONDecodeError:
            continue
    if data is None:
        raise ReplyError(f"reply is not JSON: {text[:80]!r}")
    if isinstance(data, dict):
        data = data.get("dialogue", data.get("messages"))
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise ReplyError('reply JSON is not {"dialogue": [message objects]}')
    return data


def repair_messages(raw: list[dict], candidates: list[ImageRef]) -> Dialogue:
    """Turn reply messages into a Dialogue, fixing what is safely fixable; ReplyError otherwise."""
    by_id = {r.image_id: r for r in candidates}
    introduced: set[str] = set()
    messages = []
    for j, m in enumerate(raw):
        role = str(m.get("role", "")).strip().lower()
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ReplyError(f"message {j} has no content")
        content = content.strip()
        if role != USER:
            messages.append(Message(role, strip_placeholders(content)))
            continue
        ids = list(dict.fromkeys(str(i) for i in (m.get("image_ids") or [])))
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise ReplyError(f"message {j}: image id(s) {', '.join(unknown)} are not among the candidates {list(by_id)}")
        ids = [i for i in ids if i not in introduced]  # an image is introduced once; later it is only mentioned
        for image_id in set(placeholder_ids(content)) - set(ids):
            content = content.replace(f"IMAGE#{image_id}{IMAGE_BLOCK}", f"IMAGE#{image_id}")
        try:
            content = insert_placeholders(content, ids)
        except ValueError as e:
            raise ReplyError(f"message {j}: {e}") from e
        ordered = [i for i in placeholder_ids(content) if i in ids]
        introduced.update(ordered)
        messages.append(Message(role, content, [by_id[i] for i in ordered]))
    return Dialogue(messages)


def reply_to_dialogue(text: str, candidates: list[ImageRef], config: GeneratorConfig | None = None) -> Dialogue:
    """Parse, repair and validate one reply: a 4-message dialogue over min..max candidate images."""
    config = config or GeneratorConfig()
    dialogue = repair_messages(parse_reply(text), candidates)
    errors = dialogue_errors(dialogue_to_dict(dialogue), file="reply")
    if errors:
        raise ReplyError("; ".join(f"message {e.message}: {e.reason}" if e.message is not None else e.reason
                                   for e in errors))
    if len(dialogue.messages) != 4:
        raise ReplyError(f"expected 4 messages (two turns), got {len(dialogue.messages)}")
    n = len(dialogue.images)
    if not config.min_images <= n <= config.max_images:
        raise ReplyError(f"dialogue uses {n} images; expected {config.min_images}-{config.max_images}")
    return dialogue


# ---------------------------------------------------------------- the loop

@dataclass
class GenerationSummary:
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0  # already in the output file (resume)
    reasons: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        top = "; ".join(f"{n}x {r}" for r, n in self.reasons.most_common(3))
        return (f"accepted {self.accepted}, rejected {self.rejected}, skipped {self.skipped} (already done)"
                + (f"; top rejection reasons: {top}" if top else ""))


def generate_dialogues(pool: list[ImageRef], demo: Dialogue, out_path: str | Path, n_dialogues: int,
                       n_candidates: int = 4, seed: int = 0, config: GeneratorConfig | None = None,
                       rejects_path: str | Path | None = None, client: OpenAI | None = None) -> GenerationSummary:
    """Ask for `n_dialogues` dialogues; job i always sees the same candidates, so a rerun resumes.

    Each accepted dialogue is appended to `out_path` (JSONL, one SparklesDialogue object per line,
    `generation_id` in its keys); ids already there are skipped. Rejected replies go to
    `rejects_path` with their reason and are retried on the next run.
    """
    config = config or GeneratorConfig()
    client = client or make_client(config.base_url, config.api_key, config.max_retries, config.timeout_s)
    out_path = Path(out_path)
    demo_ids = {r.image_id for r in demo.images}
    images = [r for r in {r.image_id: r for r in pool}.values() if r.image_id not in demo_ids]
    if len(images) < n_candidates:
        raise ValueError(f"only {len(images)} pool images outside the demo; need {n_candidates} candidates")
    done = {d.get("generation_id") for d in read_jsonl(out_path)} if out_path.exists() else set()
    summary = GenerationSummary()
    for i in range(n_dialogues):
        gid = f"llm-{seed}-{i:05d}"
        if gid in done:
            summary.skipped += 1
            continue
        candidates = random.Random(f"{seed}:{i}").sample(images, n_candidates)
        text = None
        try:
            text = call_llm(client, build_prompt(candidates, demo, config), config)
            dialogue = reply_to_dialogue(text, candidates, config)
        except ReplyError as e:
            summary.rejected += 1
            summary.reasons[str(e)[:80]] += 1
            if rejects_path is not None:
                append_jsonl(rejects_path, {"generation_id": gid, "reason": str(e), "reply": text})
            continue
        dialogue.meta.update(generation_id=gid, model=config.model,
                             candidates=[r.image_id for r in candidates])
        append_jsonl(out_path, dialogue_to_dict(dialogue))
        summary.accepted += 1
    return summary
