"""sparkles_lite.viz.charts and plots read at GitHub width: measured on the drawn figure (Agg, the inline
backend's 100 dpi), thumbnails are at least 96 px, no title or caption overlaps another, legends stay off
the bars, every colour scale has a bar with numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from sparkles_lite.lite import world  # noqa: E402
from sparkles_lite.viz import charts, plots  # noqa: E402
from sparkles_lite.viz.attention import AttentionSummary  # noqa: E402
from sparkles_lite.viz.influence import InfluenceSummary  # noqa: E402

DPI = 100  # matplotlib-inline's figure.dpi


def drawn(fig):
    fig.set_dpi(DPI)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.fixture
def images():
    bank = world.SceneBank(3)
    return [world.render(bank.next(n_objects=n)) for n in (1, 2, 3, 2)]


def test_image_rows_thumbnails_and_captions(images):
    caption = "BISON: a long caption that runs on and on about a small red square and a big blue diamond -> IMAGE#2"
    fig = charts.image_rows([(caption, images[:2], ["IMAGE#1", "IMAGE#2 (gold)"]),
                             (caption, images[2:], ["IMAGE#1", "IMAGE#2"])])
    renderer = drawn(fig)
    axes = [ax for ax in fig.axes if ax.images]
    assert len(axes) == 4
    texts = [t for sub in fig.subfigs for t in [sub._suptitle] if t is not None]
    texts += [ax.title for ax in axes]
    for ax in axes:
        box = ax.get_window_extent(renderer)
        assert min(box.width, box.height) >= 96, f"thumbnail {box.width:.0f} x {box.height:.0f} px"
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes_overlap(boxes[i], boxes[j]), (texts[i].get_text(), texts[j].get_text())
    for t in texts:  # nothing written over an image
        for ax in axes:
            assert not boxes_overlap(t.get_window_extent(renderer), ax.get_window_extent(renderer))
    plt.close(fig)


def test_the_old_thumbnails_would_fail(images):
    """The figure notebook 08 drew before (4 panels in 9 in, a caption placed with ax.text at y=-14)
    fails the overlap check above: the test can fail."""
    fig, axes = plt.subplots(1, 4, figsize=(9, 2.8))
    for ax, img in zip(axes, images):
        ax.imshow(img)
        ax.set_title("IMAGE#1 (gold)", fontsize=9)
        ax.axis("off")
    axes[0].text(0, -14, "BISON: a small red square and a small red diamond -> IMAGE#1", fontsize=8, ha="left")
    fig.tight_layout()
    renderer = drawn(fig)
    caption = axes[0].texts[0].get_window_extent(renderer)
    assert any(boxes_overlap(caption, ax.title.get_window_extent(renderer)) for ax in axes)
    plt.close(fig)


def test_grouped_bars_legend_off_the_data():
    values = {"MiniGPT-4-lite": [64.0, 63.5], "SparklesChat-lite": [84.0, 94.5], "text oracle": [91.0, 99.8]}
    fig = charts.grouped_bars(values, ["BISON-lite", "NLVR2-lite"],
                              intervals={k: [(v - 4, v + 3) for v in vs] for k, vs in values.items()},
                              marks={"MiniGPT-4-lite": [46.0, 51.3], "SparklesChat-lite": [56.7, 58.0]},
                              mark_label="paper", chance=50, ylim=(0, 105))
    renderer = drawn(fig)
    ax = fig.axes[0]
    legend = ax.get_legend()
    names = [t.get_text() for t in legend.get_texts()]
    assert names.count("paper") == 1 and "chance" in names and len(names) == 5
    assert not boxes_overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer))
    plt.close(fig)


def test_loss_curves_and_missing_intervals():
    fig = charts.loss_curves({"a": {"loop": ([1, 2, 3], [3.0, 2.0, 1.5]), "package": ([1, 2, 3], [3.0, 2.0, 1.5])},
                              "b": {"stage 2": ([5, 10], [1.0, 0.5])}})
    assert len(fig.axes) == 2 and fig.axes[0].get_legend() is not None
    plt.close(fig)
    fig = charts.grouped_bars({"m": [7.0, 8.0]}, ["C1", "overall"], intervals={"m": [None, (7.5, 8.5)]})
    plt.close(fig)


def _summaries(n_images=3, n_tokens=5, layers=2, heads=2):
    rng = np.random.default_rng(0)
    mass = rng.dirichlet(np.ones(n_images + 1), size=(n_tokens, layers, heads))
    tokens = [" IMAGE", "#", "2", " has", " more."][:n_tokens]
    text = "".join(tokens)
    offsets, pos = [], 0
    for t in tokens:
        offsets.append((pos, pos + len(t)))
        pos += len(t)
    labels = [f"IMAGE#{i + 1}" for i in range(n_images)]
    att = AttentionSummary(tokens, labels, mass, np.zeros((n_tokens, layers, heads, n_images, 4)), text, offsets)
    inf = InfluenceSummary(tokens, labels, np.zeros(n_tokens), rng.normal(0, 1, (n_tokens, n_images)), "blank",
                           text, offsets)
    return att, inf


def test_colour_scales_have_numbered_bars():
    att, inf = _summaries()
    for fig in (plots.layer_head_grid(att), plots.attention_and_influence(att, inf),
                plots.per_turn([("Which has more?", att, inf), ("And now?", att, inf)])):
        drawn(fig)
        bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
        assert bars, "a colour scale without a colour bar"
        for bar in bars:
            assert [t for t in bar.get_yticklabels() if t.get_text()], "a colour bar without numbers"
        plt.close(fig)


def test_per_turn_columns_in_id_order():
    att, inf = _summaries()
    att.image_labels = inf.image_labels = ["IMAGE#10", "IMAGE#2", "IMAGE#1"]
    fig = plots.per_turn([("q1", att, inf)])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["IMAGE#1", "IMAGE#2", "IMAGE#10"]
    shown = fig.axes[0].images[0].get_array()[0]
    np.testing.assert_allclose(shown.sum(), 1.0, atol=1e-6)              # attention shares of one answer
    np.testing.assert_allclose(fig.axes[1].images[0].get_array()[0], inf.support()[[2, 1, 0]], atol=1e-6)
    plt.close(fig)
