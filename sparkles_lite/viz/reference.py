"""Does an answer's `IMAGE#k` look at image k, and does it depend on it? Both lenses over an eval set.

For every `IMAGE#<id>` an answer spells with the id of one of its images, take the tokens of the id
(the digits after `#`) and measure two shares of "how much is about the named image":

* attention: their attention restricted to image tokens and normalised over them (mean of layers and
  heads), the share on the named image (`sparkles_lite.viz.attention`);
* influence: remove each image in turn and see how much the id's log-probability falls; the share of
  that support which comes from the named image (`sparkles_lite.viz.influence`).

Chance is what an even split over the prompt's images gives (1 / number of images). Each share comes
with a bootstrap 95% interval that resamples whole examples (the mentions of one conversation are not
independent), as does its excess over chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from sparkles_lite.data.schema import ASSISTANT, USER, Message
from sparkles_lite.eval.stats import bootstrap_mean_ci
from sparkles_lite.lite import world
from sparkles_lite.viz.attention import image_attention
from sparkles_lite.viz.influence import image_influence

LENSES = {"attention": "attention share", "influence": "influence share"}


def answer_turns(model, messages: list[Message], image_of: Callable[[str], Image.Image], max_new_tokens: int = 32):
    """Yield (history, images, Generated, AttentionSummary) for each user message of `messages`, answered
    greedily with the model's own earlier answers in the history (as the lite evaluation and a chat do);
    `image_of` opens an image by its id. Assistant messages in `messages` are replaced by the model's."""
    history: list[Message] = []
    for msg in messages:
        if msg.role != USER:
            continue
        history.append(msg)
        ids = [ref.image_id for m in history for ref in m.images]
        images = [image_of(i) for i in ids]
        gen = model.generate(history, images, max_new_tokens=max_new_tokens, output_attentions=True)
        labels = [f"IMAGE#{i}" for i in ids][len(ids) - gen.prompt.n_images:]  # turns dropped for length
        yield list(history), images, gen, image_attention(gen, model, labels)
        history.append(Message(ASSISTANT, gen.text))


@dataclass
class LensResult:
    """One lens over every mention: the mean share on the named image and its excess over chance, each
    with a bootstrap 95% interval."""

    share: tuple[float, float, float]    # (mean, low, high)
    chance: float
    excess: tuple[float, float, float]   # share - chance, per mention: (mean, low, high)
    n: int

    @property
    def relation(self) -> str:
        """"above" or "below" chance when the excess's 95% interval leaves out 0, else "level"."""
        _, low, high = self.excess
        return "above" if low > 0 else "below" if high < 0 else "level"


@dataclass
class ReferenceStat:
    """Per mention records (see the module docstring) and what they add up to."""

    records: list[dict]
    n_answers: int
    n_unknown_ids: int
    ablation: str = "blank"

    @property
    def n_mentions(self) -> int:
        return len(self.records)

    def lens(self, name: str, seed: int = 0) -> LensResult | None:
        """`name` in LENSES; None without mentions."""
        if name not in LENSES:
            raise ValueError(f"unknown lens {name!r}; expected one of {', '.join(LENSES)}")
        if not self.records:
            return None
        share = [r[name] for r in self.records]
        chance = [1.0 / r["n_images"] for r in self.records]
        groups = [r["example"] for r in self.records]
        return LensResult(bootstrap_mean_ci(share, groups, seed=seed), float(np.mean(chance)),
                          bootstrap_mean_ci([s - c for s, c in zip(share, chance)], groups, seed=seed),
                          len(share))

    @property
    def per_layer_attention(self) -> list[float]:
        """Attention share on the named image per layer (mean of heads and mentions)."""
        return np.mean([r["per_layer"] for r in self.records], axis=0).tolist() if self.records else []


def reference_stat(model, examples, max_new_tokens: int = 32, ablation: str = "blank") -> ReferenceStat:
    """Measure both lenses for `model` over lite examples (e.g. `eval_examples("select", n)` and
    `eval_examples("dialogue", n)`): one greedy answer per user turn, then its attention and influence."""
    records: list[dict] = []
    unknown = answers = 0
    for ex_i, ex in enumerate(examples):
        render = lambda image_id, scenes=ex.scenes: world.render(scenes[image_id])  # noqa: E731
        for turn, (messages, images, gen, att) in enumerate(answer_turns(model, ex.messages, render, max_new_tokens)):
            answers += 1
            mentions = [m for m in att.mentions() if m["image"] is not None and m["tokens"]]
            unknown += len(att.mentions()) - len(mentions)
            if not mentions:
                continue
            inf = image_influence(model, messages, images, gen, ablation, att.image_labels)
            for m in mentions:
                toks, named = m["tokens"], m["image"]
                per_layer = [float(att.image_share(layer=layer)[toks].mean(axis=0)[named])
                             for layer in range(att.n_layers)]
                records.append({
                    "example": ex_i, "turn": turn, "task": ex.task, "answer": gen.text, "id": m["id"],
                    "n_images": att.n_images,
                    "attention": float(att.image_share()[toks].mean(axis=0)[named]),
                    "influence": float(inf.share(toks)[named]),
                    "delta_named": float(inf.delta[toks, named].sum()),   # nats the id loses without image k
                    "per_layer": per_layer,
                    "on_images": float(1.0 - att.select()[toks, -1].mean()),
                })
    return ReferenceStat(records, answers, unknown, ablation)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def reference_table(stats: dict[str, ReferenceStat]) -> str:
    """Markdown: one row per model and lens, shares in % with their 95% intervals."""
    lines = ["| model | lens | on the named image, % [95% CI] | chance, % | above chance, points [95% CI] "
             "| mentions | answers |", "|---|---|---|---|---|---|---|"]
    for name, st in stats.items():
        for lens, title in LENSES.items():
            r = st.lens(lens)
            if r is None:
                lines.append(f"| {name} | {title} | no mentions | | | 0 | {st.n_answers} |")
                continue
            (m, lo, hi), (e, elo, ehi) = r.share, r.excess
            lines.append(f"| {name} | {title} | {_pct(m)} [{_pct(lo)}, {_pct(hi)}] | {_pct(r.chance)} | "
                         f"{_pct(e)} [{_pct(elo)}, {_pct(ehi)}] | {r.n} | {st.n_answers} |")
    return "\n".join(lines)


def verdict(result: LensResult | None) -> str:
    """One plain sentence on a lens: above, below, or not told apart from chance (its excess's 95% CI)."""
    if result is None:
        return "no answer named one of its images: nothing to measure"
    (m, _, _), (e, lo, hi) = result.share, result.excess
    where = f"{_pct(m)}% on the named image vs {_pct(result.chance)}% by chance ({result.n} mentions)"
    if result.relation == "above":
        return f"above chance: {where}, {_pct(e)} points more [95% CI {_pct(lo)}, {_pct(hi)}]"
    if result.relation == "below":
        return f"below chance: {where}, {_pct(-e)} points less [95% CI {_pct(lo)}, {_pct(hi)}]"
    return f"not told apart from chance: {where}; the 95% CI of the difference, [{_pct(lo)}, {_pct(hi)}] points, contains 0"
