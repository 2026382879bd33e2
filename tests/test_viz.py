"""sparkles_lite.viz: attention split by image, patch rollout, and figures (influence: test_viz_influence.py).

On the shipped lite model, with tiny sets (a few seconds on 2 CPU cores)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sparkles_lite.lite import world  # noqa: E402
from sparkles_lite.lite.eval import eval_examples  # noqa: E402
from sparkles_lite.viz import plots  # noqa: E402
from sparkles_lite.viz.attention import image_attention, patch_attention, pooling_attention  # noqa: E402


@pytest.fixture(scope="module")
def model():
    from sparkles_lite.model.sparkles_chat import SparklesChat
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: 1 thread is as fast, and does not collapse under load
    yield SparklesChat.from_pretrained("sparkleschat-lite")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def answered(model):
    ex = eval_examples("select", 1)[0]
    images = [world.render(ex.scenes[i]) for i in ex.image_ids]
    gen = model.generate(ex.messages[:1], images, max_new_tokens=16, output_attentions=True)
    return ex, images, gen, image_attention(gen, model)


def test_mass_splits_each_attention_row(answered, model):
    ex, images, gen, s = answered
    n_layers, n_heads = model.lm.config.num_hidden_layers, model.lm.config.num_attention_heads
    assert s.mass.shape == (len(s.tokens), n_layers, n_heads, len(images) + 1)
    assert s.image_tokens.shape == (len(s.tokens), n_layers, n_heads, len(images), model.tokens_per_image)
    np.testing.assert_allclose(s.mass.sum(-1), 1.0, atol=1e-4)          # softmax rows
    np.testing.assert_allclose(s.image_tokens.sum(-1), s.mass[..., :-1], atol=1e-5)
    assert s.image_labels == [f"IMAGE#{i}" for i in ex.image_ids]       # read back from the prompt
    assert "###" not in s.tokens and "".join(s.tokens).strip() == gen.text


def test_image_mass_matches_raw_attention(answered):
    """Recompute one cell by hand from the raw attentions and the prompt's position map."""
    _, _, gen, s = answered
    idx = torch.tensor(gen.prompt.image_index)
    step, layer, head = 1, 2, 3
    row = gen.attentions[step][layer][head, -1]
    assert row[:len(idx)][idx == 1].sum().item() == pytest.approx(s.mass[step, layer, head, 1], abs=1e-6)
    assert s.select(layer, head)[step, 1] == pytest.approx(s.mass[step, layer, head, 1])
    assert s.select().shape == (len(s.tokens), s.n_images + 1)
    shares = s.image_share()
    np.testing.assert_allclose(shares.sum(1), 1.0, atol=1e-5)


def test_words_group_image_ids_and_mentions(answered):
    _, _, _, s = answered
    words = s.words()
    assert sum(len(idx) for _, idx in words) == len(s.tokens)
    names, rows = s.by_words()
    assert rows.shape == (len(words), s.n_images + 1) and names == [w for w, _ in words]
    for m in s.mentions():
        spelled = "".join(s.tokens[i] for i in m["tokens"]).strip()
        assert spelled == m["id"]


def test_patch_attention_carries_image_mass(answered, model):
    _, images, _, s = answered
    pool = pooling_attention(model, images)
    grid = model.vision.grid
    assert pool.shape == (len(images), model.tokens_per_image, grid, grid)
    np.testing.assert_allclose(pool.sum(axis=(2, 3)), 1.0, atol=1e-4)  # each query's attention over patches
    heat = patch_attention(s, model, images, [0, 1], layer=0, pooling=pool)
    assert heat.shape == (len(images), grid, grid)
    expected = s.select(layer=0)[[0, 1], :-1].mean(0)
    np.testing.assert_allclose(heat.sum(axis=(1, 2)), expected, atol=1e-5)


def test_figures_draw(answered, model):
    _, images, _, s = answered
    import matplotlib.pyplot as plt
    for fig in (plots.attention_heatmap(s), plots.attention_heatmap(s, layer=0, head=1, images_only=True),
                plots.layer_head_grid(s, word=0), plots.patch_overlay(s, model, images, word=0),
                plots.compare_heatmaps({"a": s, "b": s})):
        assert fig.axes
        plt.close(fig)
