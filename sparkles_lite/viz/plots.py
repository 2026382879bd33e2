"""Matplotlib figures for attention across images and image influence (data from `sparkles_lite.viz`).

Every function returns the `Figure` and draws nothing else, so notebooks end the line with `;`
and tests can call them headless (Agg backend).
"""

from __future__ import annotations

import re
import textwrap

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from sparkles_lite.viz.attention import AttentionSummary, patch_attention
from sparkles_lite.viz.influence import InfluenceSummary
from sparkles_lite.viz.reference import LENSES, ReferenceStat


def _label(layer: int | None, head: int | None) -> str:
    return (f"layer {layer}" if layer is not None else "mean of layers") + ", " + \
        (f"head {head}" if head is not None else "mean of heads")


def _rows(summary: AttentionSummary, layer, head, by_words: bool, images_only: bool):
    if by_words:
        names, values = summary.by_words(layer, head)
    else:
        names, values = [t.strip() or repr(t) for t in summary.tokens], summary.select(layer, head)
    columns = summary.columns
    if images_only:
        total = values[:, :-1].sum(axis=1, keepdims=True)
        values = np.divide(values[:, :-1], total, out=np.zeros_like(values[:, :-1]), where=total > 0)
        columns = summary.image_labels
    return names, values, columns


def draw_heatmap(ax, summary: AttentionSummary, layer: int | None = None, head: int | None = None,
                 by_words: bool = True, images_only: bool = False, annotate: bool = True,
                 vmax: float | None = None, title: str | None = None):
    """Words (or tokens) × (IMAGE#1..n, text) on one axis; returns the image for a colour bar."""
    names, values, columns = _rows(summary, layer, head, by_words, images_only)
    im = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=vmax or max(values.max(), 1e-6))
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    if annotate and values.size <= 400:
        top = vmax or (values.max() if values.size else 1)
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if v > 0.6 * top else "white")
    ax.set_title(title or _label(layer, head), fontsize=9)
    return im


def attention_heatmap(summary: AttentionSummary, layer: int | None = None, head: int | None = None,
                      by_words: bool = True, images_only: bool = False, title: str | None = None) -> Figure:
    """One heatmap: rows are the answer's words (or tokens), columns each image and text; a cell is
    the share of that word's attention on that column (`images_only`: normalised over images)."""
    names, _, columns = _rows(summary, layer, head, by_words, images_only)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(columns), 0.8 + 0.32 * len(names)))
    im = draw_heatmap(ax, summary, layer, head, by_words, images_only)
    fig.colorbar(im, ax=ax, fraction=0.05, label="attention share")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def layer_head_grid(summary: AttentionSummary, word: int | None = None, images_only: bool = True) -> Figure:
    """layers × heads panels of image shares in one figure: for one word (index into `words()`),
    a small bar chart per panel is hard to read, so each panel is that word's row as a colour strip;
    with `word=None` each panel is the full words × images heatmap of that layer and head."""
    n_l, n_h = summary.n_layers, summary.n_heads
    if word is None:
        fig, axes = plt.subplots(n_l, n_h, figsize=(1.9 * n_h + 1.6, 1.3 + 0.26 * len(summary.words()) * n_l),
                                 sharex=True, sharey=True, squeeze=False, layout="constrained")
        for l in range(n_l):
            for h in range(n_h):
                ax = axes[l, h]
                im = draw_heatmap(ax, summary, l, h, images_only=images_only, annotate=False, vmax=1.0,
                                  title=f"layer {l}, head {h}")
                if h:
                    ax.tick_params(labelleft=False)
        bar = fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01, ticks=[0, 0.25, 0.5, 0.75, 1])
        bar.set_label("share of the word's image attention" if images_only else "attention share")
        fig.suptitle("every layer (rows) and head (columns): answer words × images", fontsize=10)
        return fig
    names, idx = zip(*summary.words())
    grid = np.stack([np.stack([_rows_for(summary, l, h, list(idx[word]), images_only) for h in range(n_h)])
                     for l in range(n_l)])  # [L, H, columns]
    columns = summary.image_labels if images_only else summary.columns
    fig, axes = plt.subplots(1, len(columns), figsize=(2.3 * len(columns) + 1, 0.5 + 0.35 * n_l), squeeze=False)
    for c, name in enumerate(columns):
        ax = axes[0, c]
        im = ax.imshow(grid[:, :, c], vmin=0, vmax=1, cmap="viridis")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("head", fontsize=8)
        ax.set_xticks(range(n_h))
        ax.set_yticks(range(n_l))
        if c == 0:
            ax.set_ylabel("layer", fontsize=8)
    fig.colorbar(im, ax=axes[0].tolist(), fraction=0.03)
    fig.suptitle(f"word {names[word]!r}: share of its image attention, per layer and head", fontsize=10)
    return fig


def _rows_for(summary, layer, head, tokens, images_only):
    row = summary.select(layer, head)[tokens].mean(axis=0)
    if images_only:
        total = row[:-1].sum()
        return row[:-1] / total if total > 0 else np.zeros_like(row[:-1])
    return row


def patch_overlay(summary: AttentionSummary, model, images, word: int, layer: int | None = None,
                  head: int | None = None, pooling: np.ndarray | None = None, alpha: float = 0.55) -> Figure:
    """Each image with the patch heatmap of one answer word (index into `summary.words()`) on top;
    one colour scale for all images, titles give the word's attention mass on each image."""
    names, idx = zip(*summary.words())
    heat = patch_attention(summary, model, images, list(idx[word]), layer, head, pooling)
    vmax = max(float(heat.max()), 1e-9)
    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images) + 0.6, 3.0), squeeze=False)
    for i, (ax, img) in enumerate(zip(axes[0], images)):
        w, h = img.size
        ax.imshow(img, extent=(0, w, h, 0))
        im = ax.imshow(heat[i], cmap="inferno", alpha=alpha, vmin=0, vmax=vmax, extent=(0, w, h, 0),
                       interpolation="nearest")
        ax.set_title(f"{summary.image_labels[i]}\nmass {heat[i].sum():.3f}", fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=axes[0].tolist(), fraction=0.025, label="attention (rolled out to patches)")
    fig.suptitle(f"word {names[word]!r}, {_label(layer, head)}", fontsize=10)
    return fig


def compare_heatmaps(summaries: dict[str, AttentionSummary], layer: int | None = None, head: int | None = None,
                     images_only: bool = True) -> Figure:
    """Side by side, one heatmap per model (e.g. MiniGPT-4-lite vs SparklesChat-lite), one colour scale."""
    n = len(summaries)
    height = max(len(s.words()) for s in summaries.values())
    width = max(len(s.image_labels if images_only else s.columns) for s in summaries.values())
    fig, axes = plt.subplots(1, n, figsize=(n * (2.6 + 1.0 * width), 1.2 + 0.32 * height), squeeze=False,
                             layout="constrained")
    for ax, (name, s) in zip(axes[0], summaries.items()):
        im = draw_heatmap(ax, s, layer, head, images_only=images_only, vmax=1.0 if images_only else None,
                          title=name)
    fig.colorbar(im, ax=axes[0].tolist(), fraction=0.03,
                 label="share of image attention" if images_only else "attention share")
    fig.suptitle(_label(layer, head), fontsize=10)
    return fig


def draw_influence(ax, summary: InfluenceSummary, vmax: float | None = None, title: str | None = None):
    """Words × images: how many nats of log-probability each word loses when that image is removed
    (diverging colours: red = the image supported the word, blue = it argued against it)."""
    names, values = summary.by_words()
    top = vmax or max(float(np.abs(values).max()) if values.size else 0.0, 1e-3)
    im = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-top, vmax=top)
    ax.set_xticks(range(summary.n_images), summary.image_labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    if values.size <= 400:
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, f"{v:+.2f}" if abs(v) >= 0.005 else "0", ha="center", va="center", fontsize=7,
                    color="white" if abs(v) > 0.6 * top else "black")
    ax.set_title(title or f"influence: log p lost without the image ({summary.ablation})", fontsize=9)
    return im


def attention_and_influence(attention: AttentionSummary, influence: InfluenceSummary,
                            title: str | None = None) -> Figure:
    """The same answer, two lenses side by side: where each word's image attention goes (rows sum to 1
    over images) and what removing each image costs the word (Δ log p, nats)."""
    rows = max(len(attention.words()), len(influence.words()))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(3.2 + 2.2 * attention.n_images, 1.4 + 0.32 * rows),
                                   layout="constrained")
    im0 = draw_heatmap(ax0, attention, images_only=True, vmax=1.0, title="attention: share of image attention")
    fig.colorbar(im0, ax=ax0, fraction=0.08, label="share (0-1)")
    im1 = draw_influence(ax1, influence)
    ax1.tick_params(labelleft=False)
    fig.colorbar(im1, ax=ax1, fraction=0.08, label="Δ log p (nats)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def compare_stats(stats: dict[str, ReferenceStat]) -> Figure:
    """Per model, both lenses: share on the named image with its 95% interval against chance; and the
    attention share per layer."""
    names = list(stats)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10.5, 3.6), gridspec_kw={"width_ratios": [3, 2]},
                                   layout="constrained")
    colours = {"attention": "#4c72b0", "influence": "#e08a00"}
    width = 0.38
    for k, (lens, title) in enumerate(LENSES.items()):
        for j, name in enumerate(names):
            r = stats[name].lens(lens)
            if r is None:
                continue
            m, lo, hi = r.share
            x = j + (k - 0.5) * width
            ax0.bar(x, m, width * 0.9, color=colours[lens], label=title if j == 0 else None)
            ax0.errorbar(x, m, yerr=[[m - lo], [hi - m]], color="black", capsize=3, lw=1)
            ax0.hlines(r.chance, x - width / 2, x + width / 2, colors="black", linestyles=":", lw=1.5,
                       label="chance (1 / images)" if j == 0 and k == 0 else None)
            ax0.text(x, hi + 0.02, f"{m:.2f}", ha="center", va="bottom", fontsize=8)
    ax0.set_xticks(range(len(names)), names)
    ax0.set_ylim(0, 1.15)
    ax0.set_ylabel("share on the named image")
    ax0.set_title("tokens spelling IMAGE#k: how much is about image k (95% CI)", fontsize=9)
    ax0.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    for name in names:
        if stats[name].per_layer_attention:
            ax1.plot(stats[name].per_layer_attention, marker="o", label=name)
    ax1.set_xlabel("layer")
    ax1.set_ylim(0, 1)
    ax1.set_ylabel("attention share on the named image")
    ax1.set_title("attention per layer (mean of heads)", fontsize=9)
    ax1.legend(fontsize=8, loc="upper left", frameon=False)
    return fig


def per_turn(turns: list[tuple[str, AttentionSummary, InfluenceSummary]]) -> Figure:
    """A conversation turn by turn (question, attention and influence of its answer): how each answer's
    image attention divides between the images (mean of its tokens, layers and heads), and how much
    log-probability the answer loses when each image is blanked (`InfluenceSummary.support`). Columns
    in id order; images a turn cannot see yet are left blank."""
    labels = sorted({label for _, att, _ in turns for label in att.image_labels}, key=_natural)
    attention = np.full((len(turns), len(labels)), np.nan)
    support = np.full((len(turns), len(labels)), np.nan)
    for r, (_, att, inf) in enumerate(turns):
        cols = [labels.index(label) for label in att.image_labels]
        if len(att.tokens):
            attention[r, cols] = att.image_share().mean(axis=0)
        support[r, cols] = inf.support()
    names = [f"turn {r + 1}: " + textwrap.shorten(q, 46, placeholder="…") for r, (q, _, _) in enumerate(turns)]
    fig, axes = plt.subplots(1, 2, figsize=(4.4 + 2.6 * len(labels), 1.5 + 0.45 * len(turns)),
                             layout="constrained", sharey=True)
    top = max(float(np.nanmax(np.abs(support))) if np.isfinite(support).any() else 0.0, 1e-3)
    panels = ((axes[0], attention, "viridis", 0.0, 1.0, "{:.2f}", "where it looked:\nshare of image attention",
               "share (rows sum to 1)"),
              (axes[1], support, "RdBu_r", -top, top, "{:+.1f}", "what it used: log p the answer\nloses without the image",
               "Δ log p (nats)"))
    for ax, values, cmap, vmin, vmax, fmt, title, bar in panels:
        im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        for (r, c), v in np.ndenumerate(values):
            if not np.isnan(v):
                dark = (v > 0.6) if cmap == "viridis" else (abs(v) > 0.6 * top)
                ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                        color=("black" if dark else "white") if cmap == "viridis" else ("white" if dark else "black"))
        ax.set_xticks(range(len(labels)), labels, fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.06, label=bar)
    return fig


def _natural(label: str):
    """IMAGE#2 before IMAGE#10: digits compared as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]
