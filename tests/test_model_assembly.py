"""Interleaved token assembly: hand-checkable label masks, position maps, errors, padding."""

from __future__ import annotations

import warnings

import pytest
import torch

from sparkles_lite import assets
from sparkles_lite.data.schema import ASSISTANT, IMAGE_TOKEN, USER, ImageRef, Message
from sparkles_lite.model.assembly import IGNORE, AssemblyError, assemble, collate, render_conversation
from sparkles_lite.model.tokenizer import load_tokenizer

K = 3


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(assets.LITE_LM)


def user(text: str, *ids: str) -> Message:
    return Message(USER, text, [ImageRef(i) for i in ids])


def assistant(text: str) -> Message:
    return Message(ASSISTANT, text)


def two_turns() -> list[Message]:
    return [user("What is in IMAGE#1<Img><ImageHere></Img>?", "1"), assistant("a red circle."),
            user("And IMAGE#2<Img><ImageHere></Img> and IMAGE#3<Img><ImageHere></Img>?", "2", "3"),
            assistant("two squares.")]


def supervised_tokens(tok, a) -> list[str]:
    return tok.convert_ids_to_tokens([l for l in a.labels if l != IGNORE])


def test_render_template():
    text, supervised, spans = render_conversation(two_turns()[:2], add_generation_prompt=False, bos="<s>")
    assert text == "<s>###Human: What is in IMAGE#1<Img><ImageHere></Img>?###Assistant: a red circle.###"
    assert [text[s:e] for s, e in supervised] == ["a red circle.###"]
    assert [i for _, _, i in spans] == [0, 1]
    prompt, _, _ = render_conversation(two_turns()[:1], add_generation_prompt=True, bos="<s>")
    assert prompt.endswith("?###Assistant:")  # no trailing space: it belongs to the answer's first token


def test_render_is_the_papers_format_character_for_character():
    """Two turns, three images, as the official per-turn training text: the turn-2 `instruction`
    (`###Human: q1###Assistant: a1###Human: q2###Assistant: `) + the answer + the end symbol `###`
    (HYPJUDY/Sparkles multimodal_dialogue_dataset.py); one `###` between turns, never `######`."""
    q1, a1 = "What is in IMAGE#1<Img><ImageHere></Img>?", "a red circle."
    q2, a2 = "And IMAGE#2<Img><ImageHere></Img> and IMAGE#3<Img><ImageHere></Img>?", "two squares."
    official = "###Human: " + q1 + "###Assistant: " + a1 + "###Human: " + q2 + "###Assistant: " + a2 + "###"
    text, supervised, _ = render_conversation(two_turns(), add_generation_prompt=False, bos=None)
    assert text == official and "######" not in text
    assert [text[s:e] for s, e in supervised] == [a1 + "###", a2 + "###"]
    prompt, _, _ = render_conversation(two_turns()[:3], add_generation_prompt=True, bos=None)
    assert prompt == "###Human: " + q1 + "###Assistant: " + a1 + "###Human: " + q2 + "###Assistant:"


def test_shapes_and_label_mask(tok):
    a = assemble(two_turns(), tok, K, max_length=320)
    assert len(a.input_ids) == len(a.labels) == len(a.image_index) == len(a.message_index) == len(a)
    assert a.n_images == 3 and a.dropped_messages == []
    # Only assistant text and the '###' ending each answer, in every turn.
    assert supervised_tokens(tok, a) == ["Ġa", "Ġred", "Ġcircle", ".", "###", "Ġtwo", "Ġsquares", ".", "###"]
    assert tok.decode([l for l in a.labels if l != IGNORE]) == " a red circle.### two squares.###"
    # Supervised labels equal the input ids at their positions (the LM shifts them itself).
    for i, l in enumerate(a.labels):
        assert l == IGNORE or l == a.input_ids[i]
    # Supervised positions belong to assistant messages only.
    assert {a.message_index[i] for i, l in enumerate(a.labels) if l != IGNORE} == {1, 3}


def test_position_map(tok):
    a = assemble(two_turns(), tok, K, max_length=320)
    image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    assert a.message_index[0] == -1 and a.input_ids[0] == tok.bos_token_id  # BOS belongs to no message
    # Each <ImageHere> becomes exactly K consecutive positions of its image, in order of appearance.
    for n in range(3):
        where = [i for i, x in enumerate(a.image_index) if x == n]
        assert len(where) == K and where == list(range(where[0], where[0] + K))
        assert all(a.input_ids[i] == image_id for i in where)
        assert all(a.labels[i] == IGNORE for i in where)
    assert a.input_ids.count(image_id) == 3 * K
    assert [a.message_index[a.image_index.index(n)] for n in range(3)] == [0, 2, 2]
    # Text positions are -1 in the image map; message numbering is monotone after BOS.
    assert all(x == -1 for x, t in zip(a.image_index, a.input_ids) if t != image_id)
    assert a.message_index[1:] == sorted(a.message_index[1:])
    assert set(a.message_index) == {-1, 0, 1, 2, 3}
    tokens = tok.convert_ids_to_tokens(a.input_ids)
    assert tokens[a.image_index.index(0) - 1] == "<Img>" and tokens[a.image_index.index(0) + K] == "</Img>"


def test_generation_prompt_has_no_labels(tok):
    a = assemble(two_turns()[:3], tok, K, max_length=320, add_generation_prompt=True)
    assert tok.convert_ids_to_tokens(a.input_ids)[-3:] == ["###", "Assistant", ":"]
    assert supervised_tokens(tok, a) == ["Ġa", "Ġred", "Ġcircle", ".", "###"]


def test_text_only_conversation(tok):
    a = assemble([user("Hello"), assistant("Hi.")], tok, K, max_length=320)
    assert a.n_images == 0 and set(a.image_index) == {-1}
    assert supervised_tokens(tok, a)[-1] == "###"


def test_placeholder_image_mismatch_names_both_numbers(tok):
    msgs = [user("Compare IMAGE#1<Img><ImageHere></Img> and IMAGE#2<Img><ImageHere></Img>.", "1")]
    with pytest.raises(AssemblyError, match=r"2 <ImageHere> placeholder\(s\) but 1 image\(s\) given \(IMAGE#1\)"):
        assemble(msgs, tok, K, 320)


def test_image_without_placeholder(tok):
    with pytest.raises(AssemblyError, match=r"0 <ImageHere> placeholder\(s\) but 1 image\(s\).*IMAGE#7"):
        assemble([user("What is in IMAGE#7?", "7")], tok, K, 320)


def test_assistant_with_placeholder(tok):
    msgs = [user("Hi"), assistant("Look: <Img><ImageHere></Img>")]
    with pytest.raises(AssemblyError, match=r"message 1 \(assistant\) contains 1 image placeholder"):
        assemble(msgs, tok, K, 320)


def test_no_user_message(tok):
    with pytest.raises(AssemblyError, match="no user message"):
        assemble([assistant("hi")], tok, K, 320)


def test_too_long_drops_whole_turns_from_the_left(tok):
    msgs = two_turns() + [user("What about IMAGE#1 now?"), assistant("a red circle.")]
    full = assemble(msgs, tok, K, 1000)
    without_first = assemble(msgs[2:], tok, K, 1000)
    without_two = assemble(msgs[4:], tok, K, 1000)
    with pytest.warns(UserWarning, match=r"dropped messages 0-1 \(1 image\(s\) with them\)"):
        a = assemble(msgs, tok, K, max_length=len(full) - 1)
    assert a.dropped_messages == [0, 1] and a.n_images == 2 and len(a) == len(without_first)
    assert a.input_ids == without_first.input_ids and min(i for i in a.message_index if i >= 0) == 2
    with pytest.warns(UserWarning, match=r"dropped messages 0-3 \(3 image\(s\) with them\)"):
        b = assemble(msgs, tok, K, max_length=len(without_first) - 1)
    assert b.dropped_messages == [0, 1, 2, 3] and b.n_images == 0 and len(b) == len(without_two)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert assemble(msgs, tok, K, max_length=len(full)).dropped_messages == []


def test_last_turn_alone_too_long_is_an_error(tok):
    msgs = two_turns()
    last = assemble(msgs[2:], tok, K, 1000)
    with pytest.raises(AssemblyError, match=rf"last turn alone needs {len(last)} tokens, more than max_length=10"):
        assemble(msgs, tok, K, max_length=10)


def test_collate_uneven_images_right_and_left_padding(tok):
    a = assemble(two_turns(), tok, K, 320)                                   # 3 images
    b = assemble([user("Hi IMAGE#9<Img><ImageHere></Img>", "9"), assistant("ok.")], tok, K, 320)  # 1 image
    c = assemble([user("Hello"), assistant("Hi.")], tok, K, 320)             # no image
    pad = tok.pad_token_id
    right = collate([a, b, c], pad)
    L = len(a)
    assert right.input_ids.shape == right.labels.shape == right.attention_mask.shape == right.image_mask.shape == (3, L)
    assert right.images_per_example == [3, 1, 0]
    assert right.image_mask.sum(1).tolist() == [3 * K, K, 0]
    for row, e in enumerate([a, b, c]):
        n = len(e)
        assert right.input_ids[row, :n].tolist() == e.input_ids
        assert right.labels[row, :n].tolist() == e.labels
        assert right.attention_mask[row].tolist() == [1] * n + [0] * (L - n)
        assert (right.input_ids[row, n:] == pad).all() and (right.labels[row, n:] == IGNORE).all()
    left = collate([a, b, c], pad, padding_side="left")
    for row, e in enumerate([a, b, c]):
        n = len(e)
        assert left.input_ids[row, L - n:].tolist() == e.input_ids
        assert left.attention_mask[row].tolist() == [0] * (L - n) + [1] * n
        assert left.image_mask[row, L - n:].tolist() == [i >= 0 for i in e.image_index]
        assert not left.image_mask[row, :L - n].any()
    # Row-major order of the mask = images example by example, image by image.
    assert left.image_mask.dtype == torch.bool and right.attention_mask.dtype == torch.long


def test_collate_pads_to_a_multiple_with_nothing_supervised_or_attended_in_the_extra(tok):
    a = assemble(two_turns(), tok, K, 320)
    b = assemble([user("Hello"), assistant("Hi.")], tok, K, 320)
    plain, rounded = collate([a, b], tok.pad_token_id), collate([a, b], tok.pad_token_id, pad_to_multiple=64)
    L = plain.input_ids.shape[1]
    assert rounded.input_ids.shape[1] == -(-L // 64) * 64 > L
    for name in ("input_ids", "labels", "attention_mask", "image_mask"):
        assert torch.equal(getattr(rounded, name)[:, :L], getattr(plain, name))
    assert not rounded.attention_mask[:, L:].any() and (rounded.labels[:, L:] == IGNORE).all()
    assert not rounded.image_mask[:, L:].any()


def test_image_view_matches_the_lite_lms_text_view_position_for_position(tok):
    """The lite LM learned images as `<Img> w1 ... w9 </Img>` (`text_only`). With `after_image` the
    model's sequence is that same sequence with the 9 words swapped for 9 image positions; without it
    the ' ' before `</Img>` is missing (which cost 15 points of select before this test existed)."""
    from sparkles_lite.lite.tasks import TEXT_AFTER_IMAGE, LiteGenerator, text_only
    from sparkles_lite.lite.world import slot_words

    image_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    ex = LiteGenerator(5).dialogue()
    text_view = assemble(text_only(ex.messages, ex.scenes), tok, 0, 1000)
    words = [tok(" " + " ".join(slot_words(ex.scenes[i])), add_special_tokens=False).input_ids for i in ex.image_ids]
    assert {len(w) for w in words} == {9}
    for after, matches in ((TEXT_AFTER_IMAGE, True), ("", False)):
        image_view = assemble(ex.messages, tok, 9, 1000, after_image=after)
        flat = iter(t for w in words for t in w)
        swapped = [next(flat) if t == image_id else t for t in image_view.input_ids]
        assert (swapped == text_view.input_ids) is matches
        assert (image_view.labels == text_view.labels) is matches
        assert image_view.n_images == len(ex.image_ids)


def test_after_image_text_is_unsupervised_text_of_the_users_message(tok):
    a = assemble(two_turns(), tok, K, 320, after_image=" ")
    b = assemble(two_turns(), tok, K, 320)
    assert len(a) == len(b) + 3 and a.n_images == b.n_images == 3
    space = tok(" ", add_special_tokens=False).input_ids
    for n in range(3):
        last = max(i for i, x in enumerate(a.image_index) if x == n)
        assert a.input_ids[last + 1:last + 1 + len(space)] == space and a.image_index[last + 1] == -1
        assert a.labels[last + 1] == IGNORE and a.message_index[last + 1] == a.message_index[last]
        assert tok.convert_ids_to_tokens(a.input_ids[last + 1 + len(space)]) == "</Img>"


def test_a_per_turn_item_supervises_only_its_last_answer(tok):
    """The paper's per-turn samples: loss on the last answer and its `###`; the earlier answer is context."""
    a = assemble(two_turns(), tok, K, max_length=320, supervise="last")
    assert supervised_tokens(tok, a) == ["Ġtwo", "Ġsquares", ".", "###"]
    assert a.input_ids == assemble(two_turns(), tok, K, max_length=320).input_ids
    with pytest.raises(ValueError, match="supervise"):
        assemble(two_turns(), tok, K, max_length=320, supervise="first")


def test_the_answer_is_cut_at_the_separator_the_template_writes():
    from sparkles_lite.data.schema import SEP
    from sparkles_lite.model.assembly import cut_answer

    text, spans, _ = render_conversation(two_turns(), add_generation_prompt=False, bos=None)
    first_answer = text[spans[0][0]:]  # what a model would go on to write after the first answer
    assert cut_answer(first_answer) == two_turns()[1].content.strip() and SEP in first_answer
    assert cut_answer("  no separator  ") == "no separator"
