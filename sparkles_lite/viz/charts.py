"""The notebooks' other figures: rows of images with their captions, and grouped bars with 95% intervals.

Sized to read at GitHub's notebook width (about 900 px at the inline backend's 100 dpi): thumbnails of at
least 1.3 in (~130 px), titles above their own image, captions above their row, legends beside the plot
rather than over the data. Every function returns the `Figure` (end the notebook line with `;`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from PIL import Image

THUMB_IN = 1.6  # inches per thumbnail: 160 px at 100 dpi


def image_rows(rows: Sequence[tuple[str, Sequence[Image.Image], Sequence[str]]], thumb: float = THUMB_IN,
               title: str | None = None) -> Figure:
    """One row per (caption, images, titles): the caption wrapped above the row, each title above its
    image. Rows may hold different numbers of images."""
    n_cols = max(len(images) for _, images, _ in rows)
    width = max(thumb * n_cols + 0.3 * (n_cols - 1), 4.0)
    chars = int(14 * width)  # characters of a 9-point caption line across the figure
    caption_lines = [len(textwrap.wrap(caption, chars)) if caption else 0 for caption, _, _ in rows]
    title_lines = [max((len(textwrap.wrap(t, int(16 * thumb))) for name in titles for t in name.split("\n")),
                       default=1) for _, _, titles in rows]
    heights = [thumb + 0.3 + 0.16 * t + 0.2 * c for t, c in zip(title_lines, caption_lines)]
    fig = plt.figure(figsize=(width, sum(heights) + (0.4 if title else 0)), layout="constrained")
    subfigs = fig.subfigures(len(rows), 1, height_ratios=heights, squeeze=False)[:, 0]
    for sub, (caption, images, titles) in zip(subfigs, rows):
        axes = sub.subplots(1, n_cols, squeeze=False)[0]
        for ax in axes:
            ax.axis("off")
        for ax, image, name in zip(axes, images, titles):
            ax.imshow(image)
            ax.set_title("\n".join(textwrap.fill(line, int(16 * thumb)) for line in name.split("\n")), fontsize=8)
        if caption:
            sub.suptitle(textwrap.fill(caption, chars), fontsize=9, ha="left", x=0.01)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def grouped_bars(values: dict[str, Sequence[float]], groups: Sequence[str],
                 intervals: dict[str, Sequence[tuple[float, float] | None]] | None = None,
                 marks: dict[str, Sequence[float | None]] | None = None, mark_label: str = "",
                 ylabel: str = "", title: str = "", ylim: tuple[float, float] | None = None,
                 chance: float | None = None, chance_label: str = "chance") -> Figure:
    """Bars per series (a model) in each group (a task), with optional 95% intervals (low, high) per
    bar (None: no interval), a star per bar for a reference value (e.g. the paper's; None for none) and a chance line. The
    legend sits to the right of the axes, never over the bars."""
    names = list(values)
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) * max(1, len(names)) ** 0.5 + 3.2), 3.6),
                           layout="constrained")
    x = np.arange(len(groups))
    starred = False
    for k, name in enumerate(names):
        xs = x + (k - (len(names) - 1) / 2) * width
        v = np.asarray(values[name], dtype=float)
        err = None
        if intervals and name in intervals:
            lows, highs = zip(*[(np.nan, np.nan) if iv is None else iv for iv in intervals[name]])
            err = [v - np.asarray(lows, dtype=float), np.asarray(highs, dtype=float) - v]
        ax.bar(xs, v, width * 0.95, yerr=err, capsize=3, label=name)
        pts = [(xi, m) for xi, m in zip(xs, (marks or {}).get(name, [])) if m is not None]
        if pts:
            ax.plot(*zip(*pts), "k*", markersize=10, label=None if starred else mark_label)
            starred = True
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=chance_label)
    ax.set_xticks(x, groups)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def loss_curves(panels: dict[str, dict[str, tuple[Sequence[int], Sequence[float]]]],
                ylabel: str = "training loss (answer tokens)") -> Figure:
    """One panel per title, each holding named (steps, losses) series: the first drawn as a line, the
    others as dots on top of it (e.g. a run and the run it is checked against)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels) + 0.6, 3.2), squeeze=False,
                             layout="constrained")
    for ax, (title, series) in zip(axes[0], panels.items()):
        for k, (name, (steps, losses)) in enumerate(series.items()):
            style = {"lw": 2} if k == 0 else {"ls": "none", "marker": "o", "ms": 3, "color": "black"}
            ax.plot(steps, losses, label=name, **style)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        if len(series) > 1:
            ax.legend(fontsize=8, frameon=False, loc="upper right")
    return fig
