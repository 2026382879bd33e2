"""`python -m sparkles_lite data stats FILE [--plot stats.png]`: what a data file holds, in numbers.

Items (dialogues), images per item, turns, words per question and per answer, the commonest
question openings, and for BISON/NLVR2 the answer balance. The official repository's
`data_statistics.py` plots the same length distributions for SparklesDialogue (and parses each
question's root verb and object with spaCy, which this package does without: the first words of a
question say much the same for templated or generated questions).
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sparkles_lite.data.io import LAYOUTS, BisonItem, Nlvr2Item, file_layout, load_items, read_item
from sparkles_lite.data.schema import ASSISTANT, IMAGE_MENTION, USER, Dialogue, TurnExample, strip_placeholders

OPENING_WORDS = 3


@dataclass
class DatasetStats:
    file: str
    layout: str
    n_items: int = 0
    images_per_item: Counter = field(default_factory=Counter)
    turns_per_item: Counter = field(default_factory=Counter)
    question_words: list[int] = field(default_factory=list)
    answer_words: list[int] = field(default_factory=list)
    openings: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)  # BISON / NLVR2 gold answers


def _words(text: str) -> int:
    return len(strip_placeholders(text).split())


def opening(question: str, n: int = OPENING_WORDS) -> str:
    """The first `n` words, lower case, every image id written `IMAGE#…`: 'which image has'."""
    words = strip_placeholders(question).split()[:n]
    return " ".join("IMAGE#…" if IMAGE_MENTION.match(w) else w.lower().strip(",.?!:;") for w in words)


def dataset_stats(path: str | Path) -> DatasetStats:
    """Read every item with its layout's reader and count. A per-turn item counts its own question and
    answer only (its history repeats an earlier item's)."""
    path = Path(path)
    raw = load_items(path)
    layout = file_layout(path, raw) if raw else "dialogue"
    stats = DatasetStats(str(path), layout, len(raw))
    for i, r in enumerate(raw):
        obj = read_item(layout, r, f"{path}: {LAYOUTS[layout].unit} {i}")
        stats.images_per_item[len(LAYOUTS[layout].images(obj))] += 1
        if isinstance(obj, Dialogue):
            questions = [m.content for m in obj.messages if m.role == USER]
            answers = [m.content for m in obj.messages if m.role == ASSISTANT]
        elif isinstance(obj, TurnExample):
            questions, answers = [obj.history[-1].content], [obj.answer]
            stats.turns_per_item[sum(m.role == USER for m in obj.history)] += 1
        elif isinstance(obj, BisonItem):
            questions, answers = [obj.caption], []
            stats.answers[obj.label] += 1
        elif isinstance(obj, Nlvr2Item):
            questions, answers = [obj.sentence], []
            stats.answers["TRUE" if obj.label else "FALSE"] += 1
        if isinstance(obj, Dialogue):
            stats.turns_per_item[len(questions)] += 1
        stats.question_words += [_words(q) for q in questions]
        stats.answer_words += [_words(a) for a in answers]
        stats.openings.update(opening(q) for q in questions)
    return stats


def _spread(values: list[int]) -> str:
    if not values:
        return "-"
    return (f"mean {statistics.mean(values):.1f}, median {statistics.median(values):g}, "
            f"min {min(values)}, max {max(values)}")


def _counts(c: Counter) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(c.items()))


def format_stats(s: DatasetStats, top: int = 10) -> str:
    """The numbers as text lines, for the CLI and notebooks."""
    unit = "dialogues" if LAYOUTS[s.layout].unit == "dialogue" else "items"
    lines = [f"{s.file}: {s.n_items} {unit} ({LAYOUTS[s.layout].description})",
             f"images per {unit[:-1]}: {_counts(s.images_per_item)}"]
    if s.turns_per_item:
        what = "turns per dialogue" if unit == "dialogues" else "turn of the answer"
        lines.append(f"{what}: {_counts(s.turns_per_item)}")
    kind = "question" if s.layout not in ("bison", "nlvr2") else ("caption" if s.layout == "bison" else "statement")
    lines.append(f"words per {kind}: {_spread(s.question_words)}")
    if s.answer_words:
        lines.append(f"words per answer: {_spread(s.answer_words)}")
    if s.answers:
        lines.append(f"answers: {_counts(s.answers)}")
    lines.append(f"most common {kind} openings:")
    lines += [f"  {n:5d}  {text}" for text, n in s.openings.most_common(top)]
    return "\n".join(lines)


def plot_stats(s: DatasetStats):
    """A matplotlib figure: images per item, and the word counts of questions and answers."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    keys = sorted(s.images_per_item)
    axes[0].bar([str(k) for k in keys], [s.images_per_item[k] for k in keys], color="#4c72b0")
    axes[0].set(title=f"images per {'dialogue' if LAYOUTS[s.layout].unit == 'dialogue' else 'item'}",
                xlabel="images", ylabel="count")
    for ax, values, what in ((axes[1], s.question_words, "question"), (axes[2], s.answer_words, "answer")):
        if values:
            lo, hi = min(values), max(values)  # whole words: one bar per count when they fit
            bins = [x - 0.5 for x in range(lo, hi + 2)] if hi - lo <= 40 else 30
            ax.hist(values, bins=bins, color="#55a868")
            ax.axvline(statistics.mean(values), color="k", ls="--", lw=1, label=f"mean {statistics.mean(values):.1f}")
            ax.legend(frameon=False)
        ax.set(title=f"words per {what}", xlabel="words", ylabel="count")
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(Path(s.file).name)
    fig.tight_layout()
    return fig
