"""The lite world: tiny synthetic scenes whose every fact is known.

Each scene has 1-3 objects, one per position (left, centre, right). An object is a
size x colour x shape. Scenes are drawn with Pillow, so tiny models can learn them on a
CPU, and every answer about them can be checked exactly (the offline judge relies on it).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 230),
    "yellow": (235, 200, 30),
}
SIZES: tuple[str, ...] = ("small", "big")
POSITIONS: tuple[str, ...] = ("left", "centre", "right")
NUMBER_WORDS: tuple[str, ...] = ("no", "one", "two", "three", "four", "five", "six",
                                 "seven", "eight", "nine", "ten", "eleven", "twelve")
EMPTY_SLOT_WORD = "nothing"
SLOT_TOKENS_PER_IMAGE = 3 * len(POSITIONS)  # size, colour, shape for each position


@dataclass(frozen=True, order=True)
class Thing:
    """The identity of an object, without its position: what a description can name."""

    size: str
    colour: str
    shape: str

    def phrase(self, count: int = 1) -> str:
        """'a big red circle' or 'two small blue squares'."""
        noun = self.shape if count == 1 else self.shape + "s"
        article = "a" if count == 1 else NUMBER_WORDS[count]
        return f"{article} {self.size} {self.colour} {noun}"


@dataclass(frozen=True)
class SceneObject:
    thing: Thing
    position: str


@dataclass(frozen=True)
class Scene:
    """Objects sorted left to right; `seed` only jitters where they are drawn."""

    objects: tuple[SceneObject, ...]
    seed: int = 0

    def __post_init__(self) -> None:
        positions = [o.position for o in self.objects]
        if not 1 <= len(self.objects) <= len(POSITIONS):
            raise ValueError(f"a scene holds 1-{len(POSITIONS)} objects, got {len(self.objects)}")
        if len(set(positions)) != len(positions):
            raise ValueError(f"two objects share a position: {positions}")
        for o in self.objects:
            _check_thing(o.thing)
            if o.position not in POSITIONS:
                raise ValueError(f"unknown position {o.position!r}; expected one of {POSITIONS}")
        ordered = tuple(sorted(self.objects, key=lambda o: POSITIONS.index(o.position)))
        object.__setattr__(self, "objects", ordered)

    @property
    def things(self) -> list[Thing]:
        return [o.thing for o in self.objects]

    def counts(self) -> Counter:
        """How many of each Thing the scene holds."""
        return Counter(self.things)

    def count(self, *, shape: str | None = None, colour: str | None = None,
              size: str | None = None) -> int:
        """Objects matching every attribute given (None = any)."""
        return sum(1 for t in self.things
                   if (shape is None or t.shape == shape)
                   and (colour is None or t.colour == colour)
                   and (size is None or t.size == size))


def _check_thing(t: Thing) -> None:
    if t.size not in SIZES or t.colour not in COLOURS or t.shape not in SHAPES:
        raise ValueError(f"unknown object {t}; sizes {SIZES}, colours {tuple(COLOURS)}, shapes {SHAPES}")


def random_thing(rng: random.Random) -> Thing:
    return Thing(rng.choice(SIZES), rng.choice(list(COLOURS)), rng.choice(SHAPES))


def random_scene(rng: random.Random, n_objects: int | None = None) -> Scene:
    """A scene of 1-3 random objects at distinct positions."""
    n = n_objects if n_objects is not None else rng.randint(1, len(POSITIONS))
    positions = rng.sample(POSITIONS, n)
    objects = tuple(SceneObject(random_thing(rng), p) for p in positions)
    return Scene(objects, seed=rng.randrange(2**31))


def scene_from_things(things: list[Thing], rng: random.Random) -> Scene:
    """Place the given things at random distinct positions."""
    positions = rng.sample(POSITIONS, len(things))
    return Scene(tuple(SceneObject(t, p) for t, p in zip(things, positions)), seed=rng.randrange(2**31))


# ---------------------------------------------------------------- words

def describe(scene: Scene) -> str:
    """Canonical English: identical objects grouped, in left-to-right order of first appearance.

    >>> describe(Scene((SceneObject(Thing("big", "red", "circle"), "left"),)))
    'a big red circle'
    """
    counts = scene.counts()
    order = list(dict.fromkeys(scene.things))
    return join_phrases([t.phrase(counts[t]) for t in order])


def join_phrases(phrases: list[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


_PHRASE = re.compile(
    r"(a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s+"
    r"(" + "|".join(SIZES) + r")\s+(" + "|".join(COLOURS) + r")\s+(" + "|".join(SHAPES) + r")(s?)\b"
)


def parse_description(text: str) -> Counter:
    """Read a description back into a multiset of Things (positions are not described).

    Raises ValueError when the text names no object, so a judge never scores an empty parse
    as a match.
    """
    found: Counter = Counter()
    for article, size, colour, shape, plural in _PHRASE.findall(text.lower()):
        n = 1 if article in ("a", "an") else NUMBER_WORDS.index(article)
        if (n == 1) == bool(plural):
            raise ValueError(f"number and noun disagree in {article} {size} {colour} {shape}{plural!s}")
        found[Thing(size, colour, shape)] += n
    if not found:
        raise ValueError(f"no object description found in {text!r}")
    return found


def slot_words(scene: Scene) -> list[str]:
    """The fixed-length word form of a scene: size, colour, shape for each position.

    The lite LM reads images in this form during pretraining (text in place of pixels), and
    the projection learns to produce one image token per word: a Q-Former-like fixed budget
    of tokens per image (9 here, 32 in the paper).
    """
    words: list[str] = []
    by_position = {o.position: o.thing for o in scene.objects}
    for p in POSITIONS:
        t = by_position.get(p)
        words += [t.size, t.colour, t.shape] if t else [EMPTY_SLOT_WORD] * 3
    return words


# ---------------------------------------------------------------- pixels

def render(scene: Scene, size: int = 64) -> Image.Image:
    """Draw the scene on a light background; object placement jitters with `scene.seed`."""
    rng = random.Random(scene.seed)
    shade = 235 + rng.randint(-12, 12)
    img = Image.new("RGB", (size, size), (shade, shade, shade))
    draw = ImageDraw.Draw(img)
    column = size / len(POSITIONS)
    for obj in scene.objects:
        extent = column * (0.8 if obj.thing.size == "big" else 0.45)
        jitter = column * 0.08
        cx = column * (POSITIONS.index(obj.position) + 0.5) + rng.uniform(-jitter, jitter)
        cy = size / 2 + rng.uniform(-size * 0.25, size * 0.25)
        _draw_shape(draw, obj.thing.shape, cx, cy, extent / 2, COLOURS[obj.thing.colour])
    return img


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float,
                fill: tuple[int, int, int]) -> None:
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        s = r * 0.88
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r * 0.85), (cx + r, cy + r * 0.85)], fill=fill)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


@dataclass
class SceneBank:
    """Deterministic stream of scenes: the same seed always gives the same scenes."""

    seed: int
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next(self, n_objects: int | None = None) -> Scene:
        return random_scene(self._rng, n_objects)
