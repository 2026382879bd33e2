"""A deterministic SparklesEval judge for the lite world, where every caption is a full fact.

Lite captions are `world.describe(scene)` strings, so the judge knows each image's objects. It
reads the same prompt `judge.build_judge_prompt` writes (no side channel; either protocol, and it
replies in the format that prompt asks for), extracts the facts an
answer states ("IMAGE#3 shows a big red circle", "There are two circles in total", "Both images
have a blue square"), the images it names and key words such as "nothing" or "more", and scores:

- C1 understanding: the share of stated facts that are true of the images they are about;
  for answers that pick an image or state no fact, agreement with the reference's choice.
- C2 coherence: named images exist at that point of the dialogue and are the ones the
  reference names; for A2, what it says about turn-1 images agrees with them and with A1.
- C3 relevance/completeness: the share of the reference's key content (facts, images, key
  words) the answer contains; without references, the share of the asked-about images covered.

Each score is 1 + 9 x a fraction in [0, 1], rounded.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from sparkles_lite.data.schema import IMAGE_MENTION, mentioned_ids
from sparkles_lite.eval.judge import (SCORE_KEYS, JudgeInput, format_paper_reply, format_rating, judge_prompt_protocol,
                                      parse_judge_prompt)
from sparkles_lite.lite import world

_NUM = {w: i for i, w in enumerate(world.NUMBER_WORDS)} | {"a": 1, "an": 1}
_FACT = re.compile(
    r"\b(" + "|".join(sorted(_NUM, key=len, reverse=True)) + r"|\d+)\s+"
    r"(?:(" + "|".join(world.SIZES) + r")\s+)?(?:(" + "|".join(world.COLOURS) + r")\s+)?"
    r"(" + "|".join(world.SHAPES) + r"|shape|object|thing)(s?)\b")
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s+")
_EACH = re.compile(r"\b(?:both|each|every)\b")
_TOTAL = re.compile(r"\b(?:in total|together|altogether|combined|in all|across|in the two images|in both images)\b")
KEYWORDS = ("nothing", "more", "most", "fewer", "same", "yes", "no", "none")
_KEYWORD = re.compile(r"\b(" + "|".join(KEYWORDS) + r")\b(?!\s+(?:" + "|".join(
    (*world.SIZES, *world.COLOURS, *world.SHAPES, "shape", "object", "thing")) + r"))")


@dataclass(frozen=True)
class Fact:
    """A claim 'n [size] [colour] shape' about a set of images (`scope`: 'one', 'each', 'union')."""

    n: int
    article: bool
    size: str | None
    colour: str | None
    shape: str | None
    images: tuple[str, ...]
    scope: str
    text: str

    def key(self) -> tuple:
        return self.n, self.size, self.colour, self.shape

    def full(self) -> bool:
        return None not in (self.size, self.colour, self.shape)


@dataclass
class Content:
    """What an answer says: facts, images named (in order), key words."""

    facts: list[Fact]
    ids: list[str]
    keywords: set[str]

    def empty(self) -> bool:
        return not (self.facts or self.ids or self.keywords)


def judge_reply(prompt: str) -> str:
    """The reply to a judge prompt, in the format it asks for (six rating lines, or the paper's
    sections); ValueError when it is not one or the captions are not lite-world descriptions."""
    scores = score_dialogue(parse_judge_prompt(prompt))
    if judge_prompt_protocol(prompt) == "paper":
        return format_paper_reply(scores)
    return "\n".join(format_rating(k, s, why) for k, (s, why) in scores.items())


def score_dialogue(x: JudgeInput) -> dict[str, tuple[int, str]]:
    """Score key ('A1 C1', ...) -> (1-10, one-line explanation)."""
    scenes = {}
    for image_id, caption in x.images:
        try:
            scenes[image_id] = world.parse_description(caption)
        except ValueError as e:
            raise ValueError(f"IMAGE#{image_id}: the offline judge needs lite-world captions ({e})") from e
    available = [set(mentioned_ids(x.questions[0])),
                 set(mentioned_ids(x.questions[0])) | set(mentioned_ids(x.questions[1]))]
    asked = [_asked(q) for q in x.questions]
    answers = [read_answer(a, asked[t], scenes) for t, a in enumerate(x.answers)]
    refs = [read_answer(r, asked[t], scenes) for t, r in enumerate(x.references)] if x.references else None
    out: dict[str, tuple[int, str]] = {}
    for t in (0, 1):
        ans, ref = answers[t], refs[t] if refs else None
        out[f"A{t + 1} C1"] = _c1(ans, ref, scenes)
        out[f"A{t + 1} C2"] = _c2(ans, ref, available[t],
                                   sorted(available[0]) if t else None, answers[0] if t else None, scenes)
        out[f"A{t + 1} C3"] = _c3(ans, ref, asked[t])
    return {k: out[k] for k in SCORE_KEYS}


def _asked(question: str) -> list[str]:
    """The images a question is about: those its last image-naming sentence names ("Here are
    IMAGE#1 and IMAGE#2. What is in IMAGE#2?" asks about IMAGE#2 only)."""
    naming = [s for s in _SENTENCE.split(question.strip()) if IMAGE_MENTION.search(s)]
    return mentioned_ids(naming[-1]) if naming else []


def read_answer(text: str, asked: list[str], scenes: dict[str, Counter]) -> Content:
    """Facts with the images they are about. A sentence naming one image is about it; naming
    several, each image owns the text after it ("IMAGE#1 shows X and IMAGE#2 shows Y") unless
    facts come first ("X is in IMAGE#1 and Y in IMAGE#2"); "both/each" and "in total" make a
    fact hold for each / for the union of the images in play; a sentence naming none continues
    the last image named, else the asked-about images."""
    facts: list[Fact] = []
    last: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        low = sentence.lower()
        mentions = [(m.start(), m.group(1)) for m in IMAGE_MENTION.finditer(sentence)]
        named = list(dict.fromkeys(i for _, i in mentions))
        in_play = tuple(named or asked)
        scope = "each" if _EACH.search(low) else "union" if _TOTAL.search(low) else "one"
        found = list(_FACT.finditer(low))
        facts_first = bool(found and mentions and found[0].start() < mentions[0][0])
        for m in found:
            word, size, colour, shape, _ = m.groups()
            n = int(word) if word.isdigit() else _NUM[word]
            generic = shape in ("shape", "object", "thing")
            if scope != "one":
                images = in_play
            elif len(named) == 1:
                images = (named[0],)
            elif named:
                images = (_owner(mentions, m.start(), facts_first),)
            elif last:
                images = tuple(last)
            else:
                images = tuple(asked)
            facts.append(Fact(n, word in ("a", "an"), size, colour, None if generic else shape, images,
                              scope if scope != "one" or len(images) == 1 else "union", m.group(0)))
        if named:
            last = named[-1:]
    keywords = {k for k in _KEYWORD.findall(text.lower())}
    return Content(facts, mentioned_ids(text), keywords)


def _owner(mentions: list[tuple[int, str]], pos: int, facts_first: bool) -> str:
    if facts_first:
        after = [i for p, i in mentions if p > pos]
        return after[0] if after else mentions[-1][1]
    before = [i for p, i in mentions if p < pos]
    return before[-1] if before else mentions[0][1]


def truth(f: Fact, scenes: dict[str, Counter]) -> float:
    """1 true, 0.5 a fully described object present in another number, 0 false or unknown image."""
    if any(i not in scenes for i in f.images):
        return 0.0
    if f.scope == "each":
        return min(_truth_in(f, [scenes[i]]) for i in f.images)
    return _truth_in(f, [scenes[i] for i in f.images])


def _truth_in(f: Fact, counters: list[Counter]) -> float:
    actual = sum(c for counter in counters for t, c in counter.items()
                 if (f.size in (None, t.size)) and (f.colour in (None, t.colour)) and (f.shape in (None, t.shape)))
    if f.n == 0:
        return float(actual == 0)
    if f.article:
        return float(actual >= 1)  # "has a red circle": there is one
    if actual == f.n:
        return 1.0
    return 0.5 if actual >= 1 and f.full() else 0.0


def _score(fraction: float) -> int:
    return max(1, min(10, round(1 + 9 * fraction)))


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _c1(ans: Content, ref: Content | None, scenes: dict[str, Counter]) -> tuple[int, str]:
    if ans.empty():
        return 1, "states nothing about the images"
    parts: list[float] = []
    notes: list[str] = []
    if ans.facts:
        values = [truth(f, scenes) for f in ans.facts]
        parts.append(sum(values) / len(values))
        wrong = [f.text for f, v in zip(ans.facts, values) if v < 1]
        notes.append(f"{sum(v == 1 for v in values)}/{len(values)} stated facts true"
                     + (f" (not: {', '.join(wrong[:3])})" if wrong else ""))
    if ref is not None and not ref.facts and (ref.ids or ref.keywords):
        if len(ref.ids) == 1:  # the answer picks an image: the first it names
            parts.append(float(bool(ans.ids) and ans.ids[0] == ref.ids[0]))
        elif ref.ids:
            parts.append(_jaccard(set(ans.ids), set(ref.ids)))
        else:
            parts.append(len(ref.keywords & ans.keywords) / len(ref.keywords))
        notes.append("conclusion " + ("agrees" if parts[-1] == 1 else "disagrees") + " with the reference")
    if not parts:
        return 1, "states nothing checkable about the images"
    return _score(sum(parts) / len(parts)), "; ".join(notes)


def _c2(ans: Content, ref: Content | None, available: set[str], turn1: list[str] | None,
        a1: Content | None, scenes: dict[str, Counter]) -> tuple[int, str]:
    if ans.empty():
        return 1, "refers to no image and says nothing about any"
    parts: list[float] = []
    notes: list[str] = []
    if ans.ids:
        unknown = [i for i in ans.ids if i not in available]
        parts.append(1 - len(unknown) / len(ans.ids))
        notes.append(f"names unknown IMAGE#{', IMAGE#'.join(unknown)}" if unknown else "named images exist")
    if ref is not None and ref.ids:
        named = [i for i in ref.ids if i in ans.ids]
        parts.append(len(named) / len(ref.ids))
        notes.append(f"names {len(named)}/{len(ref.ids)} of the reference's images")
    across = [f for f in ans.facts if len(f.images) > 1]
    if across:  # claims that relate several images must hold across them
        values = [truth(f, scenes) for f in across]
        parts.append(sum(values) / len(values))
        notes.append(f"{sum(v == 1 for v in values)}/{len(values)} cross-image claims hold")
    single = [f for f in ans.facts if len(f.images) == 1]
    if single:  # a false fact about one image that is true of another: the images got mixed up
        mixed = [f.text for f in single if truth(f, scenes) < 1
                 and any(truth(Fact(**{**f.__dict__, "images": (i,)}), scenes) == 1 for i in available - set(f.images))]
        parts.append(1 - len(mixed) / len(single))
        notes.append(f"mixes up images ({', '.join(mixed[:3])})" if mixed else "keeps the images apart")
    if turn1 is not None and a1 is not None:
        earlier = [f for f in ans.facts if set(f.images) & set(turn1)]
        if earlier:
            said_before = {(f.images, f.key()[1:]): f.n for f in a1.facts}
            values = [0.0 if said_before.get((f.images, f.key()[1:]), f.n) != f.n else truth(f, scenes)
                      for f in earlier]
            parts.append(sum(values) / len(values))
            notes.append(f"{sum(v == 1 for v in values)}/{len(values)} statements about turn-1 images consistent")
    if not parts:
        parts.append(1.0)
        notes.append("no image references to check")
    return _score(sum(parts) / len(parts)), "; ".join(notes)


def _c3(ans: Content, ref: Content | None, asked: list[str]) -> tuple[int, str]:
    if ans.empty():
        return 1, "does not answer the question"
    if ref is not None and not ref.empty():
        want = [("fact", f.key()) for f in ref.facts] + [("id", i) for i in ref.ids] + [("kw", k) for k in ref.keywords]
        have = {("fact", f.key()) for f in ans.facts} | {("id", i) for i in ans.ids} | {("kw", k) for k in ans.keywords}
        got = [w for w in want if w in have]
        return _score(len(got) / len(want)), f"contains {len(got)}/{len(want)} key points of the reference"
    covered = {i for i in asked if i in ans.ids} | ({i for f in ans.facts for i in f.images} & set(asked))
    share = len(covered) / len(asked) if asked else 1.0
    return _score(share), f"covers {len(covered)}/{len(asked)} asked-about images"
