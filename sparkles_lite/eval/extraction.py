"""Read the chosen option out of free-form replies to the BISON and NLVR2 prompts.

Models rarely answer with the bare token: they write "Image 2", "the first image", "The answer
is IMAGE#2.", "IMAGE#1 does not match, IMAGE#2 does", "No, that's false". Each mention of an
option is classified by strength (3: a final answer such as "the answer is X", "therefore X" or
a reply that starts with X, continuing the prompt's "the answer is"; 2: an assertion such as
"X matches" or "the statement is X"; 1: a bare mention) and polarity ("not X", "X does not
match" imply the other option). The strongest level decides: at level 3 the last statement
wins; at levels 1-2 every mention must imply the same option, otherwise the reply is
ambiguous and counted as unparsable (None), never guessed.

How this differs from the official `extract_answer` (HYPJUDY/Sparkles `evaluate.py`), which reads only
the text after the last "Therefore" (a reply without that word is unparsable, so every lite answer,
"The answer is IMAGE#2.", would be), and there takes the option named first, reading "not <first
option>" as the second. On the cases its comments list (`tests/test_eval_extraction.py` has them all):

* "Therefore, IMAGE#2 is not the correct match." -- the official code returns IMAGE#2 (its comment
  says None: unparsable); here IMAGE#1, since the negation follows the option.
* "Therefore, the answer is TRUE for Image#2 and FALSE for Image#1. In conclusion, ..." -- official
  None; here TRUE, the option "the answer is" names (a per-image answer is no verdict on the pair,
  so the official reading is the better one here).
* 'Therefore, the statement "A man is sitting" cannot be true and is FALSE.' -- the comment says
  FALSE, but both the official code and this one find both options and return None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparkles_lite.data.schema import IMAGE_BLOCK, IMAGE_TOKEN
from sparkles_lite.eval.prompts import BISON_CHOICES, NLVR2_CHOICES


@dataclass(frozen=True)
class Extraction:
    """The option read from a reply (None = unparsable) and why, for the predictions log."""

    choice: str | None
    reason: str


@dataclass(frozen=True)
class _Task:
    choices: tuple[str, str]
    options: tuple[tuple[re.Pattern, str], ...]  # pattern -> choice
    option_list: re.Pattern  # "X or Y": a restated question, not an answer
    strong_before: re.Pattern  # level-2 cue just before a mention
    strong_after: re.Pattern  # level-2 cue just after a mention
    negated_after: re.Pattern  # "X does not match"


_FINAL_BEFORE = re.compile(
    r"(?:\b(?:final\s+)?(?:answer|verdict|choice)\s*(?:\([^)]*\)\s*)?(?:is|:|=|would\s+be|should\s+be|must\s+be|will\s+be)"
    r"|\b(?:therefore|thus|hence|so|in\s+conclusion|in\s+summary|overall|i\s+(?:would\s+)?(?:choose|pick|select|say|go\s+with))"
    r"\s*,?)\s*(?:(?:it\s+is|it's|that\s+is|probably|likely|clearly|definitely|certainly|not|the)\s+){0,3}$")
_FINAL_AFTER = re.compile(r"^\s*(?:is|would\s+be)\s+(?:the\s+)?(?:correct\s+|right\s+|final\s+|best\s+)?(?:answer|choice)\b")
_STANDALONE_AFTER = re.compile(r"^\s*(?:[.,!;:)(\-]|$|because\b|since\b|as\b)")
_NEGATION_BEFORE = re.compile(r"\b(?:not|never|neither|nor)\b|n't\b")
_CLAUSE_BREAK = re.compile(r"[.;!?,\n]|\bbut\b|\bwhile\b|\bwhereas\b|\bhowever\b|\balthough\b")
_SENTENCE_BREAK = re.compile(r"[.;!?\n](?=\s|$)")
_NUMBER_WORD = {"1": "1", "one": "1", "2": "2", "two": "2"}

_BISON = _Task(
    choices=BISON_CHOICES,
    options=(
        (re.compile(r"\b(?:image|img|picture|photo)\s*(?:#|no\.?|number)?\s*(1|2|one|two)\b"), "#"),
        (re.compile(r"\b(?:first|1st|left)\s+(?:image|picture|photo|one)\b"), BISON_CHOICES[0]),
        (re.compile(r"\b(?:second|2nd|right)\s+(?:image|picture|photo|one)\b"), BISON_CHOICES[1]),
    ),
    option_list=re.compile(r"\b(?:either\s+)?(?:image|img)\s*#?\s*[12]\s*(?:or|/)\s*(?:image|img)?\s*#?\s*[12]\b"),
    strong_before=re.compile(r"(?:\bmatch(?:es|ed|ing)?|\bdescribes|\bcorresponds\s+to|\bfits|\bdepicted\s+in|\bshown\s+in"
                             r"|\bmatch\s+is|\bmatching\s+image\s+is|\bcorrect\s+image\s+is)\s*(?:not\s+)?(?:the\s+)?$"),
    strong_after=re.compile(r"^\s*(?:(?:does|do|is|clearly|best|better|also)\s+)*(?:not\s+)?(?:match(?:es)?|fits?|corresponds?|"
                            r"(?:the\s+)?(?:correct|right|matching|best|better)\b|a\s+(?:better\s+)?match|does\b)"),
    negated_after=re.compile(r"^\s*(?:(?:does|do|is)\s*(?:not|n't)|doesn't|isn't|don't|(?:is\s+)?(?:incorrect|wrong)\b|fails)"),
)

_TRUE_WORDS = r"true|correct|accurate|right"
_FALSE_WORDS = r"false|incorrect|inaccurate|untrue|wrong"
_NLVR2 = _Task(
    choices=NLVR2_CHOICES,
    options=(
        (re.compile(r"\b(?:true|correct|accurate)\b(?!\s+(?:answer|choice|option|response|image|one)\b)"), NLVR2_CHOICES[0]),
        (re.compile(r"\b(?:false|incorrect|inaccurate|untrue|wrong)\b(?!\s+(?:answer|choice|option|response|image|one)\b)"),
         NLVR2_CHOICES[1]),
        (re.compile(r"(?:^|(?<=[.!?:\n]))\s*yes\b(?=\s*(?:[,.!;:]|$))"), NLVR2_CHOICES[0]),
        (re.compile(r"(?:^|(?<=[.!?:\n]))\s*no\b(?=\s*(?:[,.!;:]|$))"), NLVR2_CHOICES[1]),
    ),
    option_list=re.compile(rf"\b(?:{_TRUE_WORDS}|{_FALSE_WORDS})\s*(?:or|/)\s*(?:{_TRUE_WORDS}|{_FALSE_WORDS})\b"),
    strong_before=re.compile(r"(?:\bstatement|\bclaim|\bsentence|\bit|\bthis|\bthat)\s+(?:is|was|would\s+be|seems|appears)"
                             r"\s+(?:to\s+be\s+)?(?:not\s+)?$|\b(?:it|that)'s\s+(?:not\s+)?$"),
    strong_after=re.compile(r"^(?!)"),
    negated_after=re.compile(r"^(?!)"),
)


def extract_bison(response: str) -> Extraction:
    """IMAGE#1 / IMAGE#2 / None from a reply to `prompts.bison_prompt`."""
    return _extract(response, _BISON)


def extract_nlvr2(response: str) -> Extraction:
    """TRUE / FALSE / None from a reply to `prompts.nlvr2_prompt`."""
    return _extract(response, _NLVR2)


def _normalise(response: str) -> str:
    text = response.replace(IMAGE_BLOCK, " ").replace(IMAGE_TOKEN, " ")
    text = re.sub(r"[*_`\"“”]", " ", text)  # markdown emphasis and quotes around the option
    return text.lower()


def _extract(response: str, task: _Task) -> Extraction:
    if not response or not response.strip():
        return Extraction(None, "empty response")
    text = _normalise(response)
    text = task.option_list.sub(lambda m: " " * len(m.group(0)), text)  # keep offsets
    other = {task.choices[0]: task.choices[1], task.choices[1]: task.choices[0]}
    mentions: list[tuple[int, str, int, bool]] = []  # (level, choice, position, negated)
    for pattern, choice in task.options:
        for m in pattern.finditer(text):
            c = choice if choice != "#" else task.choices[int(_NUMBER_WORD[m.group(1)]) - 1]
            mentions.append(_classify(text, m.start(), m.end(), c, task))
    if not mentions:
        return Extraction(None, "no option mentioned")
    mentions.sort(key=lambda x: x[2])
    top = max(level for level, *_ in mentions)
    at_top = [(c if not neg else other[c], c, neg) for level, c, _, neg in mentions if level == top]
    names = {3: "final answer", 2: "assertion", 1: "mention"}
    if top == 3:
        implied, said, neg = at_top[-1]
        how = f"not {said}" if neg else said
        return Extraction(implied, f"{names[3]}: {how}")
    if {c for _, c, _, neg in mentions if neg} == set(task.choices):
        return Extraction(None, f"rejects both {task.choices[0]} and {task.choices[1]}")
    implied = {i for i, _, _ in at_top}
    if len(implied) == 1:
        said = ", ".join(("not " if neg else "") + c for _, c, neg in at_top)
        return Extraction(implied.pop(), f"{names[top]}: {said}")
    return Extraction(None, f"ambiguous: {names[top]}s imply both {task.choices[0]} and {task.choices[1]}")


def _classify(text: str, start: int, end: int, choice: str, task: _Task) -> tuple[int, str, int, bool]:
    sentence_start = max((m.end() for m in _SENTENCE_BREAK.finditer(text, 0, start)), default=0)
    clause_start = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
    before, clause_before, after = text[sentence_start:start], text[clause_start:start], text[end:end + 60]
    after = _CLAUSE_BREAK.split(after, maxsplit=1)[0]
    negated = bool(_NEGATION_BEFORE.search(clause_before)) or bool(task.negated_after.search(after))
    starts_reply = not text[:start].strip(" \t\n:,-([") and _STANDALONE_AFTER.search(after)
    if starts_reply or _FINAL_BEFORE.search(before) or _FINAL_AFTER.search(after):
        level = 3  # a reply starting with the option continues the prompt's "the answer ... is"
    elif task.strong_before.search(before) or task.strong_after.search(after):
        level = 2
    else:
        level = 1
    return level, choice, start, negated
