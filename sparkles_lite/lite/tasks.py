"""SparklesDialogue-lite: dialogues, captions and held-out evaluation sets over the lite world.

Every answer is grounded in scene facts, so every answer can be checked (`score_answer`). One
generator serves three consumers:
- the lite LM's text pretraining (images replaced by their slot words, `text_only`),
- stage 1 (single-image captions, MiniGPT-4 style) and stage 2 (multi-image 2-turn dialogues),
- evaluation (select, 2-turn dialogues, captions, and the held-out BISON-/NLVR2-lite formats).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from sparkles_lite.config import PRESETS
from sparkles_lite.data.schema import (ASSISTANT, IMAGE_BLOCK, IMAGE_ID, IMG_CLOSE, IMG_OPEN, USER, Dialogue, ImageRef,
                                       Message, insert_placeholders, placeholder_ids, whole_id_pattern)
from sparkles_lite.eval import prompts
from sparkles_lite.lite import world
from sparkles_lite.lite.world import NUMBER_WORDS, Scene, Thing

DIALOGUE_TASKS = ("select", "count", "more", "common", "describe")
CAPTION_PROMPT = f"{IMAGE_BLOCK} Describe this image."  # after MiniGPT-4's alignment prompts, shortened


@dataclass
class LiteExample:
    """A conversation ending with an assistant answer, the scenes behind its images, and checks.

    `checks[i]` says how to verify the i-th assistant message (see `score_answer`).
    """

    task: str
    messages: list[Message]
    scenes: dict[str, Scene]
    checks: list[dict]
    meta: dict = field(default_factory=dict)

    @property
    def image_ids(self) -> list[str]:
        """Image ids in order of appearance of their placeholders (the splice order)."""
        return [ref.image_id for m in self.messages for ref in m.images]

    def to_dialogue(self) -> Dialogue:
        return Dialogue(self.messages, meta={"task": self.task, **self.meta})


# ---------------------------------------------------------------- phrases

def _ref(image_id: str) -> str:
    return f"IMAGE#{image_id}"


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _and_list(items: list[str]) -> str:
    return world.join_phrases(items)


def _count_phrase(n: int, noun: str) -> str:
    """'There are three circles' / 'There is one circle' / 'There are no circles'."""
    if n == 1:
        return f"There is one {noun}"
    return f"There are {NUMBER_WORDS[n]} {noun}s"


@dataclass(frozen=True)
class Query:
    """A partial description ('a red circle', 'a big square') that objects may match."""

    shape: str
    colour: str | None = None
    size: str | None = None

    def phrase(self) -> str:
        words = [w for w in (self.size, self.colour) if w]
        return "a " + " ".join(words + [self.shape])

    def matches(self, scene: Scene) -> bool:
        return scene.count(shape=self.shape, colour=self.colour, size=self.size) > 0


def _random_query(thing: Thing, rng: random.Random) -> Query:
    kind = rng.randrange(3)
    return Query(thing.shape, colour=thing.colour if kind != 1 else None,
                 size=thing.size if kind != 0 else None)


# ---------------------------------------------------------------- single questions

def _select(ids: list[str], scenes: dict[str, Scene], rng: random.Random,
            target_index: int | None = None) -> tuple[str, str, dict] | None:
    target = ids[target_index] if target_index is not None else rng.choice(ids)
    query = _random_query(rng.choice(scenes[target].things), rng)
    if sum(query.matches(scenes[i]) for i in ids) != 1:
        return None
    q = f"Which image has {query.phrase()}: {_or_list([_ref(i) for i in ids])}?"
    claim = f"has {query.phrase()}"
    return q, f"{_ref(target)} {claim}.", {"kind": "image", "id": target, "claim": claim}


def _count(ids: list[str], scenes: dict[str, Scene], rng: random.Random) -> tuple[str, str, dict] | None:
    if rng.random() < 0.5:
        shape = rng.choice(world.SHAPES)
        n = sum(scenes[i].count(shape=shape) for i in ids)
        noun, what = shape, f"{shape}s"
    else:
        colour = rng.choice(list(world.COLOURS))
        n = sum(scenes[i].count(colour=colour) for i in ids)
        noun, what = f"{colour} object", f"{colour} objects"
    where = _and_list([_ref(i) for i in ids])
    q = f"How many {what} are there in {where} together?"
    return q, f"{_count_phrase(n, noun)} in total.", {"kind": "number", "n": n}


def _more(ids: list[str], scenes: dict[str, Scene], rng: random.Random) -> tuple[str, str, dict] | None:
    sizes = [len(scenes[i].objects) for i in ids]
    if sizes.count(max(sizes)) != 1:
        return None
    winner = ids[sizes.index(max(sizes))]
    if len(ids) == 2:
        q = f"Which of {_ref(ids[0])} and {_ref(ids[1])} has more objects?"
        return q, f"{_ref(winner)} has more objects.", {"kind": "image", "id": winner, "claim": "has more objects"}
    q = f"Which image has the most objects: {_or_list([_ref(i) for i in ids])}?"
    return q, f"{_ref(winner)} has the most objects.", {"kind": "image", "id": winner,
                                                        "claim": "has the most objects"}


# "In common" means the same object, size, colour and shape all equal ("a big red circle" in both).
# Two random scenes rarely share one, so a generator left alone would answer "They have nothing in
# common." to most such questions: it asks for a shared object this often, the scenes redrawn until so.
COMMON_SHARED_SHARE = 0.75


def _common(ids: list[str], scenes: dict[str, Scene], rng: random.Random,
            shareable: tuple[str, ...] = ()) -> tuple[str, str, dict] | None:
    """`shareable`: images whose scenes are not fixed yet; one of them may receive an object of the
    other image, so that the question has a shared object COMMON_SHARED_SHARE of the time."""
    want_shared = rng.random() < COMMON_SHARED_SHARE
    a, b = rng.sample(ids, 2)
    shared = sorted(set(scenes[a].things) & set(scenes[b].things))
    if want_shared and not shared:
        movable = [i for i in (b, a) if i in shareable]
        if not movable:
            return None
        target = movable[0]
        things = scenes[target].things
        things[rng.randrange(len(things))] = rng.choice(scenes[a if target == b else b].things)
        scenes[target] = world.scene_from_things(things, rng)
        shared = sorted(set(scenes[a].things) & set(scenes[b].things))
    elif shared and not want_shared:
        return None
    q = f"What do {_ref(a)} and {_ref(b)} have in common?"
    if not shared:
        return q, "They have nothing in common.", {"kind": "things", "things": []}
    answer = f"Both images have {_and_list([t.phrase() for t in shared])}."
    return q, answer, {"kind": "things", "things": [_thing_key(t) for t in shared]}


def _describe(ids: list[str], scenes: dict[str, Scene], rng: random.Random) -> tuple[str, str, dict] | None:
    target = rng.choice(ids)
    q = f"What is in {_ref(target)}?"
    answer = f"{_ref(target)} shows {world.describe(scenes[target])}."
    return q, answer, {"kind": "scene", "id": target}


QUESTION_MAKERS: dict[str, Callable] = {
    "select": _select, "count": _count, "more": _more, "common": _common, "describe": _describe,
}


def _thing_key(t: Thing) -> str:
    return f"{t.size} {t.colour} {t.shape}"


# ---------------------------------------------------------------- generator

class _NoQuestion(Exception):
    """The scenes fixed so far admit no question of the asked kind with one right answer."""


class LiteGenerator:
    """Seeded generator of lite examples; different seeds give disjoint image streams in practice.

    `id_source` yields image ids: random per-example ids by default (as in SparklesDialogue, ids
    are arbitrary numbers), or a serial counter when images are written to one folder.
    """

    def __init__(self, seed: int, id_source: Callable[[], str] | None = None):
        self.rng = random.Random(seed)
        self._id_source = id_source

    def _new_ids(self, n: int, taken: set[str]) -> list[str]:
        """Ids as users meet them: upload order (IMAGE#1, IMAGE#2 as in a chat), short, or long."""
        if self._id_source is None and self.rng.random() < 0.3:
            return [str(len(taken) + k + 1) for k in range(n)]
        top = 99 if self.rng.random() < 0.3 else 9999
        ids: list[str] = []
        while len(ids) < n:
            candidate = self._id_source() if self._id_source else str(self.rng.randint(1, top))
            if candidate not in taken and candidate not in ids:
                ids.append(candidate)
        return ids

    def _scenes_for(self, ids: list[str], shared_bias: float = 0.35) -> dict[str, Scene]:
        """Random scenes; with some probability copy an object between images so 'common' and
        'which image has X' questions are not trivially decided by rare objects."""
        scenes = {i: world.random_scene(self.rng) for i in ids}
        if len(ids) >= 2 and self.rng.random() < shared_bias:
            a, b = self.rng.sample(ids, 2)
            things = scenes[b].things
            things[self.rng.randrange(len(things))] = self.rng.choice(scenes[a].things)
            scenes[b] = world.scene_from_things(things, self.rng)
        return scenes

    def _question(self, task: str, ids: list[str], scenes: dict[str, Scene],
                  redraw: list[str], **forced) -> tuple[str, str, dict]:
        """Ask until the question has one right answer, redrawing only the `redraw` images (images
        an earlier turn already asked about keep their scenes). `forced` fixes the answer (see `single`)."""
        if task == "common":
            forced = {**forced, "shareable": tuple(redraw)}
        for _ in range(200):
            made = QUESTION_MAKERS[task](ids, scenes, self.rng, **forced)
            if made:
                return made
            scenes.update(self._scenes_for(redraw))
        raise _NoQuestion(f"could not make a {task!r} question for {len(ids)} images")

    def dialogue(self, tasks: tuple[str, str] | None = None) -> LiteExample:
        """A 2-turn dialogue over 2-4 images: turn 1 shows 1-2 images, turn 2 adds 1-2 images and
        asks about new and earlier images together."""
        for _ in range(20):
            try:
                return self._dialogue(tasks)
            except _NoQuestion:  # e.g. no unique 'most objects' once turn-1 scenes are fixed
                continue
        raise RuntimeError(f"could not make a dialogue for tasks {tasks}")

    def _dialogue(self, tasks: tuple[str, str] | None) -> LiteExample:
        t1, t2 = tasks or (self.rng.choice(DIALOGUE_TASKS), self.rng.choice(DIALOGUE_TASKS))
        n1 = 1 if t1 == "describe" and self.rng.random() < 0.3 else 2
        n2 = self.rng.randint(1, 2) if n1 == 2 else self.rng.randint(1, 3)
        ids = self._new_ids(n1 + n2, set())
        first, new = ids[:n1], ids[n1:]
        scenes = self._scenes_for(ids)
        q1, a1, c1 = self._question(t1, first, scenes, redraw=ids)
        first = [i for i in first if whole_id_pattern(i).search(q1)]  # 'describe' names one image
        ids = first + new
        scenes = {i: scenes[i] for i in ids}
        second_pool = self.rng.sample(first, self.rng.randint(1, len(first))) + new
        second_pool = sorted(second_pool, key=ids.index)
        if t2 in ("more", "common", "count", "select") and len(second_pool) < 2:
            second_pool = sorted(set(second_pool) | {first[0]}, key=ids.index)
        q2, a2, c2 = self._question(t2, second_pool, scenes, redraw=new)
        intro = ("Here is " if len(new) == 1 else "Here are ") + _and_list([_ref(i) for i in new]) + "."
        q1 = _introduce(q1, first, scenes)
        q2 = _introduce(intro + " " + q2, new, scenes)
        messages = [q1, Message(ASSISTANT, a1), q2, Message(ASSISTANT, a2)]
        return LiteExample(f"dialogue:{t1}+{t2}", messages, scenes, [c1, c2])

    def single(self, task: str, n_images: int | None = None, target_index: int | None = None) -> LiteExample:
        """One question over 2-4 images (the 'select among 2-4' evaluation and extra variety).
        `target_index` (select only) fixes which image is the answer, for balanced held-out sets."""
        n = n_images or self.rng.randint(2, 4)
        ids = self._new_ids(n, set())
        scenes = self._scenes_for(ids)
        forced = {} if target_index is None else {"target_index": target_index}
        q, a, c = self._question(task, ids, scenes, redraw=ids, **forced)
        mentioned = [i for i in ids if whole_id_pattern(i).search(q)]
        scenes = {i: scenes[i] for i in mentioned}
        return LiteExample(task, [_introduce(q, mentioned, scenes), Message(ASSISTANT, a)], scenes, [c])

    def caption(self) -> LiteExample:
        """MiniGPT-4-style stage-1 example: one image, 'Describe this image.', its description."""
        (image_id,) = self._new_ids(1, set())
        scene = world.random_scene(self.rng)
        ref = ImageRef(image_id, world.describe(scene))
        return LiteExample("caption", [Message(USER, CAPTION_PROMPT, [ref]),
                                       Message(ASSISTANT, world.describe(scene) + ".")],
                           {image_id: scene}, [{"kind": "scene", "id": image_id}])

    def bison(self, gold: int | None = None) -> LiteExample:
        """Which of two images matches a caption; the distractor differs in one object. `gold` (0 or 1)
        fixes the true image's position, for balanced held-out sets."""
        true_scene = world.random_scene(self.rng)
        distractor = _perturb(true_scene, self.rng)
        gold = self.rng.randrange(2) if gold is None else gold
        ordered = [true_scene, distractor] if gold == 0 else [distractor, true_scene]
        scenes = {"1": ordered[0], "2": ordered[1]}
        caption = world.describe(true_scene)
        choice = prompts.BISON_CHOICES[gold]
        msg = Message(USER, prompts.bison_prompt(caption),
                      [ImageRef(i, world.describe(s)) for i, s in scenes.items()])
        return LiteExample("bison", [msg, Message(ASSISTANT, prompts.choice_answer(choice))], scenes,
                           [{"kind": "choice", "choice": choice}], meta={"caption": caption})

    def nlvr2(self, kind: str | None = None, want: bool | None = None) -> LiteExample:
        """Is a statement true of an image pair. TRUE and FALSE equally often *within each statement
        kind*: otherwise the wording alone would give the answer away (a 'both have' statement is
        rarely true of two random scenes) and a model could score without looking at the images."""
        want = self.rng.random() < 0.5 if want is None else want
        kind = self.rng.choice(list(STATEMENT_KINDS)) if kind is None else kind
        for _ in range(2000):
            scenes = {"1": world.random_scene(self.rng), "2": world.random_scene(self.rng)}
            statement, truth = _statement(scenes["1"], scenes["2"], self.rng, kind)
            if truth == want:
                break
        else:
            raise RuntimeError(f"no {kind!r} statement that is {want} in 2000 draws")
        choice = prompts.NLVR2_CHOICES[0 if truth else 1]
        msg = Message(USER, prompts.nlvr2_prompt(statement),
                      [ImageRef(i, world.describe(s)) for i, s in scenes.items()])
        return LiteExample("nlvr2", [msg, Message(ASSISTANT, prompts.choice_answer(choice))], scenes,
                           [{"kind": "choice", "choice": choice}], meta={"statement": statement})

    def example(self, task: str) -> LiteExample:
        if task == "dialogue":
            return self.dialogue()
        if task == "turn2_select":  # turn 2 picks an image by content, after every image was shown
            return self.dialogue((self.rng.choice(DIALOGUE_TASKS), "select"))
        if task in QUESTION_MAKERS:
            return self.single(task)
        return {"caption": self.caption, "bison": self.bison, "nlvr2": self.nlvr2}[task]()


# Held-out sets whose answers are balanced by construction, so that a constant answer scores chance:
# BISON-lite IMAGE#1/IMAGE#2 50/50, NLVR2-lite TRUE/FALSE 50/50 within each statement kind, select
# with the answer's position uniform over the 2-4 images. Each schedule is a block of answers shuffled.
SELECT_BLOCK = [(n, k) for n in (2, 3, 4) for k in range(n) for _ in range(12 // n)]  # n uniform, then k


def balanced_examples(gen: LiteGenerator, task: str, n: int) -> list[LiteExample]:
    """`n` examples of `task` ('bison', 'nlvr2' or 'select') in shuffled blocks of balanced answers."""
    blocks = {"bison": [{"gold": g} for g in (0, 1)],
              "nlvr2": [{"kind": k, "want": w} for k in STATEMENT_KINDS for w in (True, False)],
              "select": [{"n_images": m, "target_index": k} for m, k in SELECT_BLOCK]}
    if task not in blocks:
        raise ValueError(f"no balanced schedule for {task!r}; expected one of {sorted(blocks)}")
    make = {"bison": gen.bison, "nlvr2": gen.nlvr2, "select": lambda **kw: gen.single("select", **kw)}[task]
    out: list[LiteExample] = []
    while len(out) < n:
        block = list(blocks[task])
        gen.rng.shuffle(block)
        out += [make(**forced) for forced in block[:n - len(out)]]
    return out


def _introduce(question: str, ids: list[str], scenes: dict[str, Scene]) -> Message:
    """A user message whose text gets a placeholder after the first mention of each new image."""
    text = insert_placeholders(question, ids)
    order = [i for i in placeholder_ids(text) if i in ids]
    return Message(USER, text, [ImageRef(i, world.describe(scenes[i])) for i in order])


def _perturb(scene: Scene, rng: random.Random) -> Scene:
    """A scene whose description differs from `scene`'s in exactly one object or attribute."""
    while True:
        things = scene.things
        move = rng.random()
        if move < 0.2 and len(things) < len(world.POSITIONS):
            things.append(world.random_thing(rng))
        elif move < 0.35 and len(things) > 1:
            things.pop(rng.randrange(len(things)))
        else:
            k = rng.randrange(len(things))
            t = things[k]
            attr = rng.choice(("size", "colour", "shape"))
            values = {"size": world.SIZES, "colour": tuple(world.COLOURS), "shape": world.SHAPES}[attr]
            new_value = rng.choice([v for v in values if v != getattr(t, attr)])
            things[k] = Thing(**{**t.__dict__, attr: new_value})
        candidate = world.scene_from_things(things, rng)
        if candidate.counts() != scene.counts():
            return candidate


# The four NLVR2-lite statement kinds `_statement` writes, told apart by their wording (the files keep
# only the statement, as real NLVR2 does); used to see which kind of cross-image reasoning fails.
STATEMENT_KINDS = {
    "count across both": re.compile(r"^There (is|are) \w+ \w+ in the two images$"),
    "both have": re.compile(r"^Both images have a \w+ \w+$"),
    "more objects": re.compile(r"^IMAGE#1 has more objects than IMAGE#2$"),
    "exactly one has": re.compile(r"^Exactly one image has a \w+ object$"),
}


def statement_kind(statement: str) -> str:
    """Which of `STATEMENT_KINDS` an NLVR2-lite statement is; ValueError names any other statement."""
    for kind, pattern in STATEMENT_KINDS.items():
        if pattern.match(statement):
            return kind
    raise ValueError(f"not an NLVR2-lite statement: {statement!r}")


def _statement(a: Scene, b: Scene, rng: random.Random, kind: str) -> tuple[str, bool]:
    """A statement of `kind` (one of STATEMENT_KINDS) about scenes a and b, and whether it is true."""
    if kind == "count across both":
        shape = rng.choice(world.SHAPES)
        real = a.count(shape=shape) + b.count(shape=shape)
        n = real if rng.random() < 0.5 else max(0, real + rng.choice((-1, 1)))
        noun = shape if n == 1 else shape + "s"
        verb = "is" if n == 1 else "are"
        return f"There {verb} {NUMBER_WORDS[n]} {noun} in the two images", n == real
    if kind == "both have":  # about a thing image 1 has, so that TRUE is not rare
        thing = rng.choice(a.things)
        colour, shape = thing.colour, thing.shape
        truth = a.count(colour=colour, shape=shape) > 0 and b.count(colour=colour, shape=shape) > 0
        return f"Both images have a {colour} {shape}", truth
    if kind == "more objects":
        return "IMAGE#1 has more objects than IMAGE#2", len(a.objects) > len(b.objects)
    if kind != "exactly one has":
        raise ValueError(f"unknown NLVR2-lite statement kind {kind!r}")
    colour = rng.choice(list(world.COLOURS))
    truth = (a.count(colour=colour) > 0) != (b.count(colour=colour) > 0)
    return f"Exactly one image has a {colour} object", truth


# ---------------------------------------------------------------- checking answers

_IMAGE_REF = re.compile(rf"IMAGE\s*#\s*({IMAGE_ID})")  # lenient: an answer's "IMAGE #3" still names IMAGE#3
_NUMBER = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r"|\d+)\b")


def score_answer(check: dict, answer: str, scenes: dict[str, Scene]) -> bool:
    """Is `answer` right? The check comes from the generator, the scenes are the ground truth."""
    kind = check["kind"]
    if kind == "image":  # the right image first; what is said of it, if anything, is what was asked
        m = _IMAGE_REF.search(answer)
        if not m or m.group(1) != check["id"]:
            return False
        said = " ".join(answer[m.end():].strip(" .!").split()).lower()
        return not said or "claim" not in check or said == check["claim"]
    if kind == "number":
        m = _NUMBER.search(answer.lower())
        if not m:
            return False
        word = m.group(1)
        return (int(word) if word.isdigit() else NUMBER_WORDS.index(word)) == check["n"]
    if kind == "things":
        if not check["things"]:
            return "nothing" in answer.lower()
        try:
            said = parse_description_lenient(answer)
        except ValueError:
            return False
        return sorted(_thing_key(t) for t in said) == sorted(check["things"])
    if kind == "scene":
        try:
            return world.parse_description(answer) == scenes[check["id"]].counts()
        except ValueError:
            return False
    if kind == "choice":
        options = prompts.BISON_CHOICES if check["choice"].startswith("IMAGE") else prompts.NLVR2_CHOICES
        said = [o for o in options if o.lower() in answer.lower()]
        return said == [check["choice"]]
    raise ValueError(f"unknown check kind {kind!r}")


def parse_description_lenient(text: str) -> Counter:
    """`world.parse_description`, but tolerant of the plural/number mismatch a model may produce."""
    found: Counter = Counter()
    for t in re.findall(r"\b(" + "|".join(world.SIZES) + r")\s+(" + "|".join(world.COLOURS) + r")\s+("
                        + "|".join(world.SHAPES) + r")s?\b", text.lower()):
        found[Thing(*t)] += 1
    if not found:
        raise ValueError(f"no object description found in {text!r}")
    return found


# ---------------------------------------------------------------- images as text

# `<Img> w1 ... w9 </Img>`: after the words comes the text the lite preset puts after an image's tokens
# (`LMConfig.text_after_image`), so a model on the lite LM reads its images in the layout of this view.
TEXT_AFTER_IMAGE = PRESETS["lite"].lm.text_after_image


def text_only(messages: list[Message], scenes: dict[str, Scene]) -> list[Message]:
    """Replace each image placeholder by its scene's slot words: the lite LM's pretraining view."""
    out = []
    for m in messages:
        content = m.content
        for ref in m.images:
            words = " ".join(world.slot_words(scenes[ref.image_id]))
            content = content.replace(IMAGE_BLOCK, f"{IMG_OPEN} {words}{TEXT_AFTER_IMAGE}{IMG_CLOSE}", 1)
        out.append(Message(m.role, content, []))
    return out
