import pytest

from sparkles_lite.data.schema import IMAGE_BLOCK, Dialogue, ImageRef, Message, insert_placeholders, placeholder_ids
from sparkles_lite.data.turns import dialogue_to_turns


def _user(text, ids):
    return Message("user", insert_placeholders(text, ids), [ImageRef(i, f"cap {i}") for i in ids])


def test_two_turns_accumulate_history_and_images():
    d = Dialogue([_user("IMAGE#a and IMAGE#b?", ["a", "b"]), Message("assistant", "A1"),
                  _user("Now IMAGE#c with IMAGE#a", ["c"]), Message("assistant", "A2")], meta={"src": "x"})
    t1, t2 = dialogue_to_turns(d)
    assert [m.role for m in t1.history] == ["user"] and t1.answer == "A1"
    assert [r.image_id for r in t1.images] == ["a", "b"]
    assert [m.role for m in t2.history] == ["user", "assistant", "user"] and t2.answer == "A2"
    assert [r.image_id for r in t2.images] == ["a", "b", "c"]
    assert t2.meta == {"src": "x", "turn": 2}
    t2.history[0].content = "changed"
    assert d.messages[0].content != "changed"  # turns do not alias the dialogue


def test_images_follow_placeholder_order_not_list_order():
    m = Message("user", f"IMAGE#2{IMAGE_BLOCK} then IMAGE#1{IMAGE_BLOCK}", [ImageRef("1"), ImageRef("2")])
    (t,) = dialogue_to_turns(Dialogue([m, Message("assistant", "x")]))
    assert [r.image_id for r in t.images] == ["2", "1"]


def test_three_turns():
    msgs = []
    for k in range(3):
        msgs += [_user(f"What about IMAGE#{k}?", [str(k)]), Message("assistant", f"A{k}")]
    turns = dialogue_to_turns(Dialogue(msgs))
    assert [len(t.history) for t in turns] == [1, 3, 5]
    assert [r.image_id for r in turns[-1].images] == ["0", "1", "2"]


def test_prefix_ids_do_not_collide():
    text = insert_placeholders("the truck in IMAGE#804, the machine in IMAGE#1417 and the man in IMAGE#14?", ["804", "1417", "14"])
    assert "IMAGE#14" + IMAGE_BLOCK + "17" not in text
    assert placeholder_ids(text) == ["804", "1417", "14"]


@pytest.mark.parametrize("messages, match", [
    ([Message("user", "q")], "even number"),
    ([Message("assistant", "a"), Message("user", "q")], "message 0: expected role 'user'"),
    ([Message("user", f"IMAGE#9{IMAGE_BLOCK}"), Message("assistant", "a")], "placeholder IMAGE#9 has no entry"),
    ([Message("user", "no placeholder", [ImageRef("5")]), Message("assistant", "a")], r"image\(s\) 5 listed"),
])
def test_bad_dialogues_raise_with_location(messages, match):
    with pytest.raises(ValueError, match=match):
        dialogue_to_turns(Dialogue(messages))


def test_one_image_id_pattern_for_mentions_placeholders_and_whole_ids():
    from sparkles_lite.data.schema import IMAGE_MENTION, mentioned_ids, whole_id_pattern

    text = f"IMAGE#a-1{IMAGE_BLOCK} and IMAGE#14, then IMAGE#a-1 again and IMAGE#1417."
    assert mentioned_ids(text) == ["a-1", "14", "1417"]
    assert placeholder_ids(text) == ["a-1"]
    assert IMAGE_MENTION.findall("IMAGE#x_y-z? IMAGE# IMAGE#!") == ["x_y-z"]
    assert [m.group(0) for m in whole_id_pattern("14").finditer(text)] == ["IMAGE#14"]
    assert whole_id_pattern("a-1").search(text).start() == text.index("IMAGE#a-1 again")
