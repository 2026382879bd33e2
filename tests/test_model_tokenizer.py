"""The lite tokenizer: byte-level round trips, one token per special / lite word, digits split,
and a chat template that renders exactly what the assembly renders."""

from __future__ import annotations

import pytest

from sparkles_lite import assets
from sparkles_lite.data.schema import ASSISTANT, USER, ImageRef, Message
from sparkles_lite.lite import world
from sparkles_lite.lite.pretrain import lite_corpus
from sparkles_lite.model.assembly import render_conversation
from sparkles_lite.model.tokenizer import SPECIAL_TOKENS, load_tokenizer, train_lite_tokenizer


@pytest.fixture(scope="module")
def shipped():
    return load_tokenizer(assets.LITE_LM)


@pytest.fixture(scope="module")
def fresh():
    return train_lite_tokenizer(lite_corpus(200))


@pytest.mark.parametrize("which", ["shipped", "fresh"])
def test_special_tokens_are_single_tokens(request, which):
    tok = request.getfixturevalue(which)
    for s in SPECIAL_TOKENS:
        assert tok.tokenize(s) == [s]
        assert tok.convert_tokens_to_ids(s) != tok.unk_token_id
    assert tok.bos_token == "<s>" and tok.eos_token == "###" and tok.pad_token == "<pad>"
    ids = tok("IMAGE#12<Img><ImageHere></Img>", add_special_tokens=False)["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["IMAGE", "#", "1", "2", "<Img>", "<ImageHere>", "</Img>"]


@pytest.mark.parametrize("text", ["Which of IMAGE#804 and IMAGE#3 has more objects?",
                                  "Ünïcödé, emoji 🎈 and tabs\tnewlines\n are fine", "  leading spaces"])
def test_any_text_round_trips(shipped, text):
    ids = shipped(text, add_special_tokens=False)["input_ids"]
    assert shipped.decode(ids) == text


def test_digits_are_split_so_unseen_ids_tokenize(shipped):
    assert shipped.tokenize("IMAGE#98765")[-5:] == ["9", "8", "7", "6", "5"]


def test_every_lite_word_is_one_token(shipped):
    words = set(world.SHAPES) | set(world.COLOURS) | set(world.SIZES)  # positions never appear in text
    words |= {s + "s" for s in world.SHAPES} | set(world.NUMBER_WORDS[:6]) | {world.EMPTY_SLOT_WORD}
    for w in sorted(words):
        assert len(shipped.tokenize(" " + w)) == 1, w


@pytest.mark.parametrize("which", ["shipped", "fresh"])
def test_chat_template_matches_assembly_render(request, which):
    shipped = request.getfixturevalue(which)
    msgs = [Message(USER, "What is in IMAGE#1<Img><ImageHere></Img>?", [ImageRef("1")]),
            Message(ASSISTANT, "a red circle."), Message(USER, "And now?")]
    as_dicts = [{"role": m.role, "content": m.content} for m in msgs]
    text, _, _ = render_conversation(msgs, add_generation_prompt=True, bos=shipped.bos_token)
    assert shipped.apply_chat_template(as_dicts, tokenize=False, add_generation_prompt=True) == text
    text, _, _ = render_conversation(msgs[:2], add_generation_prompt=False, bos=shipped.bos_token)
    assert shipped.apply_chat_template(as_dicts[:2], tokenize=False) == text


def test_save_and_reload(fresh, tmp_path):
    fresh.save_pretrained(tmp_path)
    again = load_tokenizer(tmp_path)
    text = "###Human: IMAGE#5<Img><ImageHere></Img> Describe this image.###Assistant: a big red circle.###"
    assert again(text)["input_ids"] == fresh(text)["input_ids"]
    assert again.chat_template == fresh.chat_template and len(again) == len(fresh)
