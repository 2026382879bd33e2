"""The Hugging Face path without any download: tiny CLIP/SigLIP towers and Llama/Qwen2 LMs are
built from configs, saved to disk, and loaded through the public loader like real checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast,
                          Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel)

from sparkles_lite.config import preset
from sparkles_lite.data.schema import IMAGE_TOKEN
from sparkles_lite.lite import world
from sparkles_lite.lite.pretrain import lite_corpus
from sparkles_lite.lite.tasks import LiteGenerator
from sparkles_lite.model.assembly import collate
from sparkles_lite.model.sparkles_chat import CONFIG_FILE, WEIGHTS_FILE, SparklesChat
from sparkles_lite.model.tokenizer import train_lite_tokenizer
from sparkles_lite.model.vision import HFVisionTower

VISION = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
              num_attention_heads=2)
LM = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=512)



@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """clip/, siglip/, llama/ (lite tokenizer: has <ImageHere> and '###') and qwen/ (a plain BPE
    with neither, like real LM tokenizers)."""
    root = tmp_path_factory.mktemp("hf")
    torch.manual_seed(0)
    CLIPVisionModel(CLIPVisionConfig(**VISION)).save_pretrained(root / "clip")
    SiglipVisionModel(SiglipVisionConfig(**VISION)).save_pretrained(root / "siglip")
    corpus = lite_corpus(60)
    lite_tok = train_lite_tokenizer(corpus)
    lite_tok.save_pretrained(root / "llama")
    LlamaForCausalLM(LlamaConfig(vocab_size=len(lite_tok), bos_token_id=lite_tok.bos_token_id,
                                 eos_token_id=lite_tok.eos_token_id, pad_token_id=lite_tok.pad_token_id,
                                 **LM)).save_pretrained(root / "llama")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    plain = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    assert IMAGE_TOKEN not in plain.get_vocab()
    plain.save_pretrained(root / "qwen")
    Qwen2ForCausalLM(Qwen2Config(vocab_size=len(plain), num_key_value_heads=1, eos_token_id=plain.eos_token_id,
                                 pad_token_id=plain.pad_token_id, **LM)).save_pretrained(root / "qwen")
    return root


@pytest.fixture(scope="module")
def conversation():
    ex = LiteGenerator(3).dialogue()
    return ex.messages, [world.render(ex.scenes[i]) for i in ex.image_ids]


def hf_config(root, vision: str, lm: str):
    cfg = preset("lite")
    cfg.name = f"{vision}+{lm}"
    cfg.vision.kind, cfg.vision.path = "hf", str(root / vision)
    cfg.lm.kind, cfg.lm.path = "hf", str(root / lm)
    cfg.lm.text_after_image = ""  # the lite preset's ' ' before </Img> is the lite LM's text view
    cfg.pooling.num_tokens, cfg.pooling.heads = 4, 2
    return cfg


@pytest.mark.parametrize("vision,n_features", [("clip", 16), ("siglip", 16)])
def test_vision_tower_gives_patch_features(checkpoints, conversation, vision, n_features):
    tower = HFVisionTower.from_pretrained(str(checkpoints / vision))
    assert tower.grid == 4 and tower.out_dim == 32
    pixels = tower.preprocess(conversation[1][:2])
    assert pixels.shape == (2, 3, 32, 32)
    with torch.no_grad():
        features = tower(pixels)
    assert features.shape == (2, n_features, 32)  # CLIP's CLS token is dropped, SigLIP has none
    assert tower.drop_cls == (vision == "clip")


@pytest.mark.parametrize("vision,lm", [("clip", "llama"), ("siglip", "qwen")])
def test_hf_backbones_load_train_generate_save_reload(checkpoints, conversation, tmp_path, vision, lm):
    messages, images = conversation
    model = SparklesChat.from_config(hf_config(checkpoints, vision, lm)).eval()
    assert isinstance(model.vision, HFVisionTower)
    assert type(model.lm).__name__ == {"llama": "LlamaForCausalLM", "qwen": "Qwen2ForCausalLM"}[lm]
    # The placeholder is one token whatever the tokenizer (added when missing).
    assert model.tokenizer.convert_ids_to_tokens(model.image_token_id) == IMAGE_TOKEN
    assert model.tokenizer.tokenize("a <ImageHere> b").count(IMAGE_TOKEN) == 1
    counts = model.parameter_counts()
    assert counts["trainable"] == counts["pooling"] + counts["projection"]
    assert not any(p.requires_grad for p in model.lm.parameters())

    a = model.assemble(messages)
    assert a.n_images == len(images) and a.input_ids.count(model.image_token_id) == 4 * len(images)
    batch = collate([a], model.pad_id)
    out = model(batch, model.encode_images(images))
    assert torch.isfinite(out.loss)
    # the training loss (LM head on supervised positions only) is the transformers loss
    assert torch.allclose(model.loss(batch, model.encode_images(images)), out.loss, atol=1e-5)
    out.loss.backward()
    assert model.projection.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.lm.parameters())
    model.zero_grad(set_to_none=True)

    prompt, prompt_images = messages[:3], images
    generated = model.generate(prompt, prompt_images, max_new_tokens=6)
    assert 0 < len(generated.token_ids) <= 6
    assert generated.token_ids == model.generate(prompt, prompt_images, max_new_tokens=6, use_cache=False).token_ids
    first_turn = (messages[:1], images[:len(messages[0].images)])
    assert model.generate_batch([(prompt, prompt_images), first_turn], max_new_tokens=6) == [
        generated.text, model.generate(*first_turn, max_new_tokens=6).text]

    with torch.no_grad():
        model.projection.bias.add_(0.5)
        logits = model(batch, model.encode_images(images)).logits
    model.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    reloaded = SparklesChat.from_pretrained(tmp_path / "saved").eval()
    assert reloaded.config.lm.path == str(checkpoints / lm)
    with torch.no_grad():
        assert torch.equal(reloaded(batch, reloaded.encode_images(images)).logits, logits)
    assert (reloaded.generate(prompt, prompt_images, max_new_tokens=6).token_ids
            == model.generate(prompt, prompt_images, max_new_tokens=6).token_ids)


def test_hf_config_without_paths_is_a_clear_error():
    cfg = preset("paper")
    with pytest.raises(ValueError, match="set config.vision.path"):
        SparklesChat.from_config(cfg)
    cfg.vision.path = "unused"
    cfg.vision.kind = "nope"
    with pytest.raises(ValueError, match="unknown vision kind 'nope'"):
        SparklesChat.from_config(cfg)


def test_non_vision_checkpoint_is_rejected(checkpoints):
    with pytest.raises(ValueError, match="not a CLIP or SigLIP vision model"):
        HFVisionTower.from_pretrained(str(checkpoints / "llama"))


@pytest.mark.parametrize("dtype,weights", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_half_precision_backbones_train_and_generate(checkpoints, conversation, dtype, weights):
    """`dtype` sets the frozen backbones' precision; the trainable layers stay fp32 (AdamW's master
    weights) and a training step runs under the matching autocast, fp16 with loss scaling."""
    messages, images = conversation
    model = SparklesChat.from_config(hf_config(checkpoints, "siglip", "qwen"), dtype=dtype)
    assert {p.dtype for p in model.lm.parameters()} == {p.dtype for p in model.vision.parameters()} == {weights}
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    assert model.precision.grad_scaling == (dtype == "fp16")
    params = [p for p in model.parameters() if p.requires_grad]
    opt, scaler = torch.optim.AdamW(params, lr=1e-3), model.precision.grad_scaler()
    batch = collate([model.assemble(messages)], model.pad_id)
    with model.precision.autocast():
        loss = model.loss(batch, model.encode_images(images))
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    assert torch.isfinite(loss) and all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)
    assert 0 < len(model.eval().generate(messages[:1], images[:len(messages[0].images)], max_new_tokens=4).token_ids)


def test_conversation_format_follows_the_tokenizer(checkpoints):
    """A tokenizer with a chat template (the llama stand-in saved the lite one) gets it; one without
    (the qwen stand-in's plain BPE) gets the paper's `###` format, as Vicuna does."""
    with_template = SparklesChat.from_config(hf_config(checkpoints, "clip", "llama"))
    without = SparklesChat.from_config(hf_config(checkpoints, "siglip", "qwen"))
    assert with_template.chat_format.template and not without.chat_format.template
    assert without.chat_format.stop_text == "###" and without.chat_format.stop_ids == ()


def test_a_saved_model_loads_and_answers_from_another_working_directory(checkpoints, conversation, tmp_path,
                                                                        monkeypatch):
    """Backbones given as paths relative to the working directory are stored relative to the saved
    folder (and absolute), so the model loads from anywhere, and after the tree moves; a missing
    backbone is an error naming the path."""
    messages, images = conversation
    project = tmp_path / "project"
    shutil.copytree(checkpoints / "siglip", project / "backbones" / "siglip")
    shutil.copytree(checkpoints / "qwen", project / "backbones" / "qwen")
    monkeypatch.chdir(project)
    cfg = hf_config(checkpoints, "siglip", "qwen")
    cfg.vision.path, cfg.lm.path = "backbones/siglip", "backbones/qwen"
    model = SparklesChat.from_config(cfg).eval()
    model.save_pretrained("runs/saved")
    answer = model.generate(messages[:1], images[:len(messages[0].images)], max_new_tokens=6).token_ids
    stored = json.loads((project / "runs" / "saved" / CONFIG_FILE).read_text())
    assert stored["config"]["lm"]["path"] == "../../backbones/qwen"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    reloaded = SparklesChat.from_pretrained(project / "runs" / "saved").eval()
    assert reloaded.generate(messages[:1], images[:len(messages[0].images)], max_new_tokens=6).token_ids == answer

    moved = tmp_path / "moved"
    shutil.move(str(project), str(moved))  # the whole tree: found relative to the saved folder
    assert SparklesChat.from_pretrained(moved / "runs" / "saved").config.lm.path == str(moved / "backbones" / "qwen")
    shutil.rmtree(moved / "backbones" / "qwen")
    with pytest.raises(FileNotFoundError, match=r"lm backbone is missing: not at .*moved/backbones/qwen"):
        SparklesChat.from_pretrained(moved / "runs" / "saved")


def test_hub_ids_stay_ids_when_saved(tmp_path):
    model = SparklesChat.from_config(preset("lite"), load_backbones=False)
    model.config.lm.path = "HuggingFaceTB/SmolLM2-360M-Instruct"  # not a local folder: a hub id
    model.save_pretrained(tmp_path / "saved")
    stored = json.loads((tmp_path / "saved" / CONFIG_FILE).read_text())
    assert stored["config"]["lm"]["path"] == "HuggingFaceTB/SmolLM2-360M-Instruct" and "lm" not in stored["backbones"]
