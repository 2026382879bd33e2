"""sparkles_lite.viz.influence and .reference: what removing an image does to an answer, both lenses over
a set, and their intervals.

The one-pass scores are checked against a brute-force recomputation (one forward per answer token, the
ablated images encoded from pixels) and against transformers' own greedy generation; the direction is
checked on cases where the answer depends on exactly one image."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from test_model_sparkles_chat import small_config  # noqa: E402

from sparkles_lite.data.schema import IMAGE_BLOCK, USER, ImageRef, Message, insert_placeholders  # noqa: E402
from sparkles_lite.eval.stats import bootstrap_mean_ci  # noqa: E402
from sparkles_lite.lite import world  # noqa: E402
from sparkles_lite.lite.eval import eval_examples  # noqa: E402
from sparkles_lite.model.assembly import collate  # noqa: E402
from sparkles_lite.model.sparkles_chat import SparklesChat  # noqa: E402
from sparkles_lite.viz import plots  # noqa: E402
from sparkles_lite.viz.attention import answer_length, image_attention  # noqa: E402
from sparkles_lite.viz.influence import MIN_SUPPORT, blank_like, image_influence, without_image  # noqa: E402
from sparkles_lite.viz.reference import reference_stat, reference_table, verdict  # noqa: E402


def ask(question: str, ids: list[str]) -> list[Message]:
    return [Message(USER, insert_placeholders(question, ids), [ImageRef(i) for i in ids])]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return SparklesChat.from_config(small_config(), load_backbones=False).eval()


@pytest.fixture(scope="module")
def lite():
    return SparklesChat.from_pretrained("sparkleschat-lite").eval()


def scenes_images(n_objects=(2, 1, 3), seed=5):
    bank = world.SceneBank(seed)
    scenes = [bank.next(n_objects=n) for n in n_objects]
    return scenes, [world.render(s) for s in scenes]


@torch.no_grad()
def brute_force_logprobs(model, messages, images, answer_ids):
    """One forward pass per answer token on the prefix, images encoded from the given pixels."""
    prompt = model.assemble(messages, add_generation_prompt=True)
    batch = collate([prompt], model.pad_id)
    prompt_embeds = model.embed(batch, model.encode_images(images))
    out, best = [], []
    for t, token in enumerate(answer_ids):
        prefix = torch.tensor([answer_ids[:t]], dtype=torch.long)
        embeds = torch.cat([prompt_embeds, model.lm.get_input_embeddings()(prefix)], dim=1)
        logp = torch.log_softmax(model.lm(inputs_embeds=embeds).logits[0, -1].float(), dim=-1)
        out.append(logp[token].item())
        best.append(int(logp.argmax()))
    return np.array(out), best


@pytest.mark.parametrize("ablation", ["blank", "drop"])
def test_influence_matches_brute_force(tiny, ablation):
    _, images = scenes_images()
    messages = ask("What do IMAGE#1, IMAGE#2 and IMAGE#3 have in common?", ["1", "2", "3"])
    gen = tiny.generate(messages, images, max_new_tokens=8)
    inf = image_influence(tiny, messages, images, gen, ablation)
    answer_ids = gen.token_ids[:answer_length(gen, tiny)]
    assert len(inf.tokens) == len(answer_ids) > 0
    full, best = brute_force_logprobs(tiny, messages, images, answer_ids)
    np.testing.assert_allclose(inf.logp, full, atol=1e-4)
    assert best == list(answer_ids)  # greedy: transformers' generate picked the most likely token each step
    for i in range(3):
        if ablation == "blank":
            removed, _ = brute_force_logprobs(tiny, messages, images[:i] + [blank_like(images[i])] + images[i + 1:],
                                              answer_ids)
        else:
            removed, _ = brute_force_logprobs(tiny, without_image(messages, i), images[:i] + images[i + 1:], answer_ids)
        np.testing.assert_allclose(inf.delta[:, i], full - removed, atol=1e-4)
    assert inf.image_labels == ["IMAGE#1", "IMAGE#2", "IMAGE#3"]


def test_only_the_image_with_content_has_influence(lite):
    """Two of three images are already blank, so the answer can depend on the third only: removing a
    blank image changes nothing, removing the third changes the answer's probability. The share then
    goes all to that image if it supports the answer, else (the answer grows likelier without it: the
    shipped model may name a blank image) to no image in particular."""
    _, images = scenes_images()
    images = [blank_like(images[0]), images[1], blank_like(images[2])]
    messages = ask("Which image has the most objects: IMAGE#1, IMAGE#2 or IMAGE#3?", ["1", "2", "3"])
    gen = lite.generate(messages, images, max_new_tokens=16)
    inf = image_influence(lite, messages, images, gen)
    np.testing.assert_allclose(inf.delta[:, [0, 2]], 0.0, atol=1e-4)
    assert np.abs(inf.delta[:, 1]).sum() > 0.1
    expected = [0.0, 1.0, 0.0] if inf.support()[1] >= MIN_SUPPORT else [1 / 3] * 3
    np.testing.assert_allclose(inf.share(), expected, atol=1e-3)


def test_a_right_description_depends_on_its_image(lite):
    """'What is in IMAGE#k?' over three images: a right description can only come from image k, so the
    answer's support must come from image k. (Where the model describes another image, the influence
    shows which one: see notebook 09.)"""
    right = 0
    for seed in (5, 6, 7):
        scenes, images = scenes_images(seed=seed)
        for k, image_id in enumerate(["1", "2", "3"]):
            messages = ask(f"IMAGE#1, IMAGE#2 and IMAGE#3. What is in IMAGE#{image_id}?", ["1", "2", "3"])
            gen = lite.generate(messages, images, max_new_tokens=32)
            if gen.text != f"IMAGE#{image_id} shows {world.describe(scenes[k])}.":
                continue
            right += 1
            inf = image_influence(lite, messages, images, gen)
            total = inf.delta.sum(axis=0)
            assert total.argmax() == k and total[k] > 1.0 and inf.share()[k] > 0.9, (gen.text, total)
    assert right >= 3, "the shipped model should describe at least 3 of these 9 images right"


def test_without_image_keeps_the_names():
    messages = ask("Compare IMAGE#a with IMAGE#b and IMAGE#c.", ["a", "b", "c"])
    fewer = without_image(messages, 1)
    assert fewer[0].content == messages[0].content.replace("IMAGE#b" + IMAGE_BLOCK, "IMAGE#b")
    assert [r.image_id for r in fewer[0].images] == ["a", "c"]
    assert messages[0].content.count(IMAGE_BLOCK) == 3  # the input is left alone
    with pytest.raises(ValueError, match="no image 3"):
        without_image(messages, 3)


def test_influence_rejects_a_foreign_answer(tiny):
    _, images = scenes_images()
    gen = tiny.generate(ask("What is in IMAGE#1?", ["1"]), images[:1], max_new_tokens=4)
    with pytest.raises(ValueError, match="prompts differ"):
        image_influence(tiny, ask("What is in IMAGE#2?", ["2"]), images[:1], gen)
    with pytest.raises(ValueError, match="unknown ablation"):
        image_influence(tiny, ask("What is in IMAGE#1?", ["1"]), images[:1], gen, ablation="noise")


def test_bootstrap_interval():
    rng = np.random.default_rng(1)
    values = rng.normal(0.5, 0.1, size=400)
    m, lo, hi = bootstrap_mean_ci(values)
    assert m == pytest.approx(values.mean()) and lo < m < hi
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)  # the normal interval, for a normal sample
    assert bootstrap_mean_ci(values) == bootstrap_mean_ci(values)  # deterministic for a seed
    assert bootstrap_mean_ci([0.3] * 5) == pytest.approx((0.3, 0.3, 0.3))
    # Ten copies of each of 20 values: as groups the interval is as wide as for 20 values, not 200.
    base = rng.normal(0, 1, size=20)
    repeated, groups = np.repeat(base, 10), np.repeat(np.arange(20), 10)
    _, glo, ghi = bootstrap_mean_ci(repeated, groups)
    _, blo, bhi = bootstrap_mean_ci(base)
    _, ilo, ihi = bootstrap_mean_ci(repeated)
    assert ghi - glo == pytest.approx(bhi - blo, rel=0.2) and ihi - ilo < 0.5 * (ghi - glo)
    with pytest.raises(ValueError):
        bootstrap_mean_ci([])


def test_reference_stat_both_lenses(lite):
    examples = eval_examples("select", 3) + eval_examples("dialogue", 1)
    stat = reference_stat(lite, examples, max_new_tokens=24)
    assert stat.n_answers == 5                          # 3 single turns + 2 dialogue turns
    assert stat.n_mentions == len(stat.records) > 0
    for r in stat.records:
        assert 0 <= r["attention"] <= 1 and 0 <= r["influence"] <= 1
    for lens in ("attention", "influence"):
        res = stat.lens(lens)
        m, lo, hi = res.share
        assert lo <= m <= hi and res.n == stat.n_mentions and 0 < res.chance <= 0.5
        assert res.excess[0] == pytest.approx(m - res.chance)
    assert len(stat.per_layer_attention) == lite.lm.config.num_hidden_layers
    table = reference_table({"SparklesChat-lite": stat})
    assert table.count("\n") == 3 and "influence share" in table and "[" in table
    with pytest.raises(ValueError, match="unknown lens"):
        stat.lens("gradient")
    import matplotlib.pyplot as plt
    fig = plots.compare_stats({"a": stat, "b": stat})
    assert fig.axes
    plt.close(fig)


def test_share_ignores_noise():
    from sparkles_lite.viz.influence import MIN_SUPPORT, InfluenceSummary

    def summary(delta):
        delta = np.array(delta, dtype=float)
        return InfluenceSummary(["a"] * len(delta), ["IMAGE#1", "IMAGE#2"], np.zeros(len(delta)), delta)

    np.testing.assert_allclose(summary([[2.0, -1.0], [1.0, 3.0]]).share(), [0.6, 0.4])  # positive part of the sums
    np.testing.assert_allclose(summary([[2.0, -1.0], [1.0, 1.0]]).share([1]), [0.5, 0.5])
    np.testing.assert_allclose(summary([[MIN_SUPPORT / 3, 0.0]]).share(), [0.5, 0.5])  # noise: no preference
    np.testing.assert_allclose(summary([[-1.0, -2.0]]).share(), [0.5, 0.5])


def test_verdict_sentences():
    from sparkles_lite.viz.reference import LensResult

    above = LensResult((0.9, 0.8, 0.95), 0.4, (0.5, 0.4, 0.55), 60)
    level = LensResult((0.45, 0.40, 0.50), 0.41, (0.04, -0.01, 0.09), 60)
    assert verdict(above).startswith("above chance") and "60 mentions" in verdict(above)
    assert verdict(level).startswith("not told apart from chance")
    assert verdict(LensResult((0.1, 0.05, 0.15), 0.4, (-0.3, -0.35, -0.25), 9)).startswith("below chance")
    assert "nothing to measure" in verdict(None)


def test_side_by_side_figure(lite):
    _, images = scenes_images()
    messages = ask("Which image has the most objects: IMAGE#1, IMAGE#2 or IMAGE#3?", ["1", "2", "3"])
    gen = lite.generate(messages, images, max_new_tokens=16, output_attentions=True)
    att, inf = image_attention(gen, lite), image_influence(lite, messages, images, gen)
    assert [w for w, _ in att.words()] == [w for w, _ in inf.words()]  # the same rows in both panels
    import matplotlib.pyplot as plt
    fig = plots.attention_and_influence(att, inf)
    assert len(fig.axes) == 4  # two heatmaps, two colour bars
    plt.close(fig)
