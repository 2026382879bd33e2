"""SparklesChat end to end on tiny models: the splice, generation, save/load, attentions, LoRA."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from sparkles_lite.config import preset
from sparkles_lite.data.schema import ASSISTANT, USER, ImageRef, Message
from sparkles_lite.lite import world
from sparkles_lite.lite.tasks import LiteGenerator
from sparkles_lite.model.assembly import collate
from sparkles_lite.model.lora import LoRALinear, add_lora
from sparkles_lite.model.sparkles_chat import CONFIG_FILE, WEIGHTS_FILE, SparklesChat


def small_config(lora: bool = False):
    cfg = preset("lite")
    cfg.vision.dim, cfg.vision.depth, cfg.vision.heads = 32, 1, 2
    cfg.pooling.num_tokens, cfg.pooling.heads = 4, 2
    cfg.lm.hidden, cfg.lm.layers, cfg.lm.heads, cfg.lm.intermediate = 64, 2, 2, 128
    cfg.lora.enabled = lora
    return cfg



@pytest.fixture(scope="module")
def tiny():
    return SparklesChat.from_config(small_config(), load_backbones=False).eval()


@pytest.fixture(scope="module")
def lite():
    return SparklesChat.from_pretrained("sparkleschat-lite").eval()


@pytest.fixture(scope="module")
def conversations():
    """Three conversations ending with a user message: 1, 2-4 and 2-4 images, different lengths."""
    gen = LiteGenerator(7)
    out = []
    for ex in [gen.caption(), gen.dialogue(), gen.single("count")]:
        msgs = ex.messages[:-1]
        images = [world.render(ex.scenes[r.image_id]) for m in msgs for r in m.images]
        out.append((msgs, images))
    return out


def full_batch(model, conversation):
    msgs, images = conversation
    answer = Message(ASSISTANT, "a small red circle.")
    a = model.assemble(msgs + [answer])
    return a, collate([a], model.pad_id), model.encode_images(images)


def test_default_lite_preset_builds_without_reading_disk():
    model = SparklesChat.from_config(preset("lite"), load_backbones=False)
    counts = model.parameter_counts()
    assert model.tokens_per_image == 9
    assert counts["trainable"] == sum(p.numel() for p in model.projection.parameters()) + counts["pooling"]
    assert model.tokenizer.convert_ids_to_tokens(model.image_token_id) == "<ImageHere>"


def test_image_tokens_shape(tiny, conversations):
    _, images = conversations[1]
    tokens = tiny.encode_images(images)
    assert tokens.shape == (len(images), 4, 64)
    assert tiny.encode_images([]).shape == (0, 4, 64)


def test_splice_equals_manual_inputs_embeds(tiny, conversations):
    """Masked splice == concatenating text-embedding pieces and image tokens by hand."""
    table = tiny.lm.get_input_embeddings()
    with torch.no_grad():
        for conv in conversations:
            a, batch, tokens = full_batch(tiny, conv)
            pieces, i = [], 0
            ids = torch.tensor(a.input_ids)
            while i < len(a):
                n = a.image_index[i]
                if n >= 0:
                    pieces.append(tokens[n])
                    i += tokens.shape[1]
                else:
                    j = i
                    while j < len(a) and a.image_index[j] < 0:
                        j += 1
                    pieces.append(table(ids[i:j]))
                    i = j
            manual = torch.cat(pieces)[None]
            assert torch.equal(tiny.embed(batch, tokens), manual)
            want = tiny.lm(inputs_embeds=manual).logits
            got = tiny(batch, tokens).logits
            assert torch.allclose(got, want, atol=1e-5)


def test_right_padded_batch_matches_single_examples(tiny, conversations):
    with torch.no_grad():
        singles = [full_batch(tiny, c) for c in conversations]
        batch = collate([a for a, _, _ in singles], tiny.pad_id)
        tokens = torch.cat([t for _, _, t in singles])
        out = tiny(batch, tokens)
        assert torch.isfinite(out.loss)
        for row, (a, b, t) in enumerate(singles):
            alone = tiny(b, t).logits[0]
            assert torch.allclose(out.logits[row, :len(a)], alone, atol=1e-5)


def test_training_loss_skips_unsupervised_logits_but_equals_the_full_loss(tiny, conversations):
    singles = [full_batch(tiny, c) for c in conversations]
    batch = collate([a for a, _, _ in singles], tiny.pad_id)  # right-padded: pads carry no label
    tokens = torch.cat([t for _, _, t in singles])
    full = tiny(batch, tokens).loss
    lean = tiny.loss(batch, tokens)
    assert torch.allclose(lean, full, atol=1e-6)
    lean.backward()
    try:
        assert tiny.projection.weight.grad.abs().sum() > 0
        assert all(p.grad is None for p in tiny.lm.parameters())
    finally:
        tiny.zero_grad(set_to_none=True)


def test_embed_rejects_wrong_image_count(tiny, conversations):
    _, batch, tokens = full_batch(tiny, conversations[1])
    with pytest.raises(ValueError, match=r"image positions but"):
        tiny.embed(batch, tokens[:-1])
    msgs, images = conversations[1]
    with pytest.raises(ValueError, match=rf"{len(images)} image placeholders but {len(images) - 1} images"):
        tiny.generate(msgs, images[:-1], max_new_tokens=2)


def test_loss_trains_only_pooling_and_projection(tiny, conversations):
    _, batch, _ = full_batch(tiny, conversations[0])
    tokens = tiny.encode_images(conversations[0][1])
    loss = tiny(batch, tokens).loss
    loss.backward()
    try:
        assert tiny.projection.weight.grad is not None and tiny.projection.weight.grad.abs().sum() > 0
        assert all(p.grad is None for p in tiny.lm.parameters())
        assert all(p.grad is None for p in tiny.vision.parameters())
    finally:
        tiny.zero_grad(set_to_none=True)


def test_kv_cache_equals_no_cache(tiny, lite, conversations):
    for model, convs in ((tiny, conversations[:1]), (lite, conversations[1:])):
        for msgs, images in convs:
            with_cache = model.generate(msgs, images, max_new_tokens=8)
            without = model.generate(msgs, images, max_new_tokens=8, use_cache=False)
            assert with_cache.token_ids == without.token_ids
            assert with_cache.text == without.text


def test_lite_model_answers_and_stops(lite, conversations):
    msgs, images = conversations[1]  # a multi-image dialogue, as sparkleschat-lite was trained on
    out = lite.generate(msgs, images, max_new_tokens=40)
    assert out.token_ids[-1] == lite.tokenizer.convert_tokens_to_ids("###")
    assert out.text and "###" not in out.text


def test_generate_batch_equals_single(lite, tiny, conversations):
    """Left padding is right: a batch of uneven conversations answers as each does alone."""
    answers = {}
    for name, model, n in (("lite", lite, 16), ("tiny", tiny, 6)):
        answers[name] = [model.generate(m, i, max_new_tokens=n).text for m, i in conversations]
        assert model.generate_batch(conversations, max_new_tokens=n) == answers[name]
    cached = [lite.encode_images(i) for _, i in conversations]  # skipping the vision tower
    assert lite.generate_batch(conversations, max_new_tokens=16, image_tokens=cached) == answers["lite"]


def test_streaming_callback_sees_growing_answer(lite, conversations):
    seen: list[str] = []
    out = lite.generate(*conversations[2], max_new_tokens=16, on_text=seen.append)
    assert seen and seen[-1] == out.text
    assert all(out.text.startswith(s) for s in seen)


def test_generate_drops_images_of_dropped_turns(lite, conversations):
    """Turns dropped for length take their images along; the answer equals the truncated one."""
    msgs, images = conversations[1]
    assert msgs[0].role == USER and len(msgs) == 3
    n_first = len(msgs[0].images)
    keep = lite.config.max_length
    try:
        lite.config.max_length = len(lite.assemble(msgs, add_generation_prompt=True)) - 1
        with pytest.warns(UserWarning, match="dropped messages 0-1"):
            out = lite.generate(msgs, images, max_new_tokens=8)
        with pytest.warns(UserWarning, match="dropped messages 0-1"):
            batched = lite.generate_batch([(msgs, images), conversations[0]], max_new_tokens=8)
    finally:
        lite.config.max_length = keep
    alone = lite.generate(msgs[2:], images[n_first:], max_new_tokens=8)
    assert out.token_ids == alone.token_ids
    assert batched[0] == alone.text


def test_output_attentions_switches_eager_only_for_the_call(lite, conversations):
    before = lite.lm.config._attn_implementation
    msgs, images = conversations[0]
    out = lite.generate(msgs, images, max_new_tokens=4, output_attentions=True)
    assert lite.lm.config._attn_implementation == before == "sdpa"
    assert out.attentions and len(out.attentions) == len(out.token_ids)
    n_layers, n_heads = lite.lm.config.num_hidden_layers, lite.lm.config.num_attention_heads
    first = out.attentions[0]
    assert len(first) == n_layers
    assert first[0].shape == (n_heads, len(out.prompt), len(out.prompt))
    assert out.attentions[1][0].shape == (n_heads, 1, len(out.prompt) + 1)
    assert torch.allclose(first[0].sum(-1), torch.ones(n_heads, len(out.prompt)), atol=1e-4)
    assert lite.generate(msgs, images, max_new_tokens=4).attentions is None


def test_save_pretrained_reload_bit_identical(lite, conversations, tmp_path):
    _, batch, _ = full_batch(lite, conversations[1])
    images = conversations[1][1]
    with torch.no_grad():
        lite.projection.bias.add_(0.01)  # not the shipped weights any more
        try:
            lite.save_pretrained(tmp_path / "m", extra={"note": "test"})
            logits = lite(batch, lite.encode_images(images)).logits
        finally:
            lite.projection.bias.sub_(0.01)
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == [CONFIG_FILE, WEIGHTS_FILE]
    meta = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    assert meta["note"] == "test" and meta["config"]["pooling"]["num_tokens"] == 9
    state = load_file(str(tmp_path / "m" / WEIGHTS_FILE))  # safetensors: no pickle anywhere
    assert set(state) == set(meta["trainable_tensors"]) == set(lite.trainable_state_dict())
    assert all(not k.startswith(("lm.", "vision.")) for k in state)
    reloaded = SparklesChat.from_pretrained(tmp_path / "m").eval()
    with torch.no_grad():
        again = reloaded(batch, reloaded.encode_images(images)).logits
    assert torch.equal(logits, again)


def test_loading_mismatched_checkpoint_names_the_tensor(lite, tmp_path):
    lite.save_pretrained(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / CONFIG_FILE).read_text())
    meta["config"]["pooling"]["num_tokens"] = 5
    (tmp_path / "m" / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"'pooling\.queries' has shape \(1, 9, 128\).*expects \(1, 5, 128\)"):
        SparklesChat.from_pretrained(tmp_path / "m")
    shutil.rmtree(tmp_path / "m")
    lite.save_pretrained(tmp_path / "m")
    state = load_file(str(tmp_path / "m" / WEIGHTS_FILE))
    state["projection.extra"] = torch.zeros(2)
    save_file(state, str(tmp_path / "m" / WEIGHTS_FILE))
    with pytest.raises(ValueError, match=r"unexpected tensor 'projection\.extra'"):
        SparklesChat.from_pretrained(tmp_path / "m")


def test_unknown_model_name_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a saved model directory"):
        SparklesChat.from_pretrained(tmp_path / "nothing-here")


def test_lora_trains_only_lora_and_starts_as_identity(tiny, conversations, tmp_path):
    model = SparklesChat.from_config(small_config(lora=True), load_backbones=False).eval()
    lm_trainable = [n for n, p in model.lm.named_parameters() if p.requires_grad]
    assert lm_trainable and all("lora_" in n for n in lm_trainable)
    assert len(lm_trainable) == 2 * 2 * 2  # q_proj and v_proj in 2 layers, A and B each
    assert not any(p.requires_grad for p in model.vision.parameters())
    assert sum(isinstance(m, LoRALinear) for m in model.lm.modules()) == 4
    _, batch, _ = full_batch(tiny, conversations[1])
    with torch.no_grad():
        base = tiny(batch, tiny.encode_images(conversations[1][1])).logits
        with_lora = model(batch, model.encode_images(conversations[1][1])).logits
    assert torch.allclose(base, with_lora, atol=1e-6)
    # LoRA weights are trainable state: saved and restored with the projection.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_b" in n:
                p.normal_(0, 0.01)
        changed = model(batch, model.encode_images(conversations[1][1])).logits
    assert not torch.allclose(base, changed, atol=1e-6)
    model.save_pretrained(tmp_path / "lora")
    assert any("lora_b" in k for k in load_file(str(tmp_path / "lora" / WEIGHTS_FILE)))
    reloaded = SparklesChat.from_pretrained(tmp_path / "lora", load_backbones=False).eval()
    with torch.no_grad():
        assert torch.equal(changed, reloaded(batch, reloaded.encode_images(conversations[1][1])).logits)


def test_add_lora_on_a_built_model(conversations):
    model = SparklesChat.from_config(small_config(), load_backbones=False).eval()
    _, batch, tokens = full_batch(model, conversations[0])
    with torch.no_grad():
        before = model(batch, tokens).logits
    cfg = small_config(lora=True).lora
    assert add_lora(model.lm, cfg) == 4
    model.freeze_backbones()
    assert all("lora_" in n for n, p in model.lm.named_parameters() if p.requires_grad)
    with torch.no_grad():
        assert torch.allclose(before, model(batch, tokens).logits, atol=1e-6)
    cfg.targets = ("nope",)
    with pytest.raises(ValueError, match="no linear layer named"):
        add_lora(model.lm, cfg)


def test_images_refs_in_messages_match_placeholders(lite):
    """A message whose text and images disagree fails before any model work."""
    msgs = [Message(USER, "IMAGE#1<Img><ImageHere></Img> and IMAGE#2", [ImageRef("1"), ImageRef("2")])]
    with pytest.raises(ValueError, match=r"1 <ImageHere> placeholder\(s\) but 2 image\(s\)"):
        lite.generate(msgs, [world.render(world.random_scene(__import__("random").Random(0)))] * 2)


def test_loss_equals_the_masked_loss_of_the_full_logits_and_transformers_loss(tiny, conversations):
    """`loss` computes the LM head only where a label follows; the value is the same as `masked_loss`
    of the full logits and as the loss transformers computes from `labels=`."""
    from sparkles_lite.model.sparkles_chat import masked_loss

    _, batch, tokens = full_batch(tiny, conversations[1])
    with torch.no_grad():
        full = tiny(batch, tokens)
        torch.testing.assert_close(tiny.loss(batch, tokens), masked_loss(full.logits, batch.labels))
        torch.testing.assert_close(tiny.loss(batch, tokens), full.loss)


def test_the_text_after_each_image_comes_from_the_config(lite):
    """The shipped lite models carry the lite LM's ' ' in their config; Hugging Face presets add nothing."""
    assert lite.config.lm.text_after_image == " " and lite.after_image == " "
    assert preset("lite").lm.text_after_image == " "
    assert [preset(name).lm.text_after_image for name in ("smol", "qwen", "paper")] == ["", "", ""]
