"""Round trips of every Sparkles layout through the dataclasses."""

import json

import pytest

from sparkles_lite.data.io import (BisonItem, DataFormatError, Nlvr2Item, load_bison, load_dialogues, load_json,
                                   load_nlvr2, load_turns, nlvr2_image_ids, save_bison, save_dialogues, save_nlvr2,
                                   save_turns, turn_from_dict, write_json_atomic)
from sparkles_lite.data.schema import IMAGE_BLOCK
from sparkles_lite.data.turns import dialogue_to_turns

DIALOGUE = {
    "dialogue": [
        {"role": "user", "content": f"Compare IMAGE#804{IMAGE_BLOCK} and IMAGE#14{IMAGE_BLOCK}.",
         "images": [{"image_id": 804, "caption": "a fire truck"}, {"image_id": 14, "caption": "a man"}]},
        {"role": "assistant", "content": "IMAGE#804 is red."},
        {"role": "user", "content": f"And IMAGE#1417{IMAGE_BLOCK}?", "images": [{"image_id": "1417", "caption": "a machine"}]},
        {"role": "assistant", "content": "It is grey."},
    ],
    "evaluation_id": 7,
    "raw": [{"prompt": "p", "response": "r"}],
}


def test_dialogue_round_trip_keeps_meta_and_stringifies_ids(tmp_path):
    src = tmp_path / "d.json"
    src.write_text(json.dumps([DIALOGUE]))
    (d,) = load_dialogues(src)
    assert [r.image_id for r in d.images] == ["804", "14", "1417"]
    assert d.meta == {"evaluation_id": 7, "raw": [{"prompt": "p", "response": "r"}]}
    save_dialogues(tmp_path / "out.json", [d])
    out = json.loads((tmp_path / "out.json").read_text())[0]
    assert "images" not in out["dialogue"][1]  # assistant messages carry no images, as in Sparkles
    assert load_dialogues(tmp_path / "out.json") == [d]


def test_jsonl_dialogues_are_read(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps(DIALOGUE) + "\n\n" + json.dumps(DIALOGUE) + "\n")
    assert len(load_dialogues(p)) == 2


def test_turn_files_round_trip_and_match_dialogue_turns(tmp_path):
    (d,) = load_dialogues(_write(tmp_path, [DIALOGUE]))
    turns = dialogue_to_turns(d)
    save_turns(tmp_path / "t.json", turns)
    raw = json.loads((tmp_path / "t.json").read_text())
    assert raw[1]["instruction"] == (f"###Human: {DIALOGUE['dialogue'][0]['content']}###Assistant: IMAGE#804 is red."
                                     f"###Human: And IMAGE#1417{IMAGE_BLOCK}?###Assistant: ")
    assert raw[1]["uniform_question"] == f"And IMAGE#1417{IMAGE_BLOCK}?"
    assert [x["image_id"] for x in raw[1]["tgt_imgs"]] == ["804", "14", "1417"]
    back = load_turns(tmp_path / "t.json")
    assert [(t.answer, t.images, [m.content for m in t.history]) for t in back] == \
           [(t.answer, t.images, [m.content for m in t.history]) for t in turns]
    save_turns(tmp_path / "t2.json", back)
    assert json.loads((tmp_path / "t2.json").read_text()) == raw


def test_fix_answer_takes_precedence_and_round_trips():
    raw = {"uniform_question": f"What is in IMAGE#1{IMAGE_BLOCK}?", "instruction": f"###Human: What is in IMAGE#1{IMAGE_BLOCK}?###Assistant: ",
           "answer": "old", "fix_answer": "new", "tgt_imgs": [{"image_id": 1, "caption": "c"}]}
    t = turn_from_dict(raw)
    assert t.answer == "new" and t.history[0].images[0].image_id == "1"
    from sparkles_lite.data.io import turn_to_dict
    assert turn_to_dict(t) == {**raw, "tgt_imgs": [{"image_id": "1", "caption": "c"}]}


def test_turn_without_instruction_uses_uniform_question():
    t = turn_from_dict({"question": "q", "uniform_question": f"the IMAGE#5{IMAGE_BLOCK}", "answer": "a",
                        "tgt_imgs": [{"image_id": 5, "caption": "c"}]})
    assert len(t.history) == 1 and t.meta == {"question": "q"}


def test_bison_round_trip_and_label(tmp_path):
    raw = [{"evaluation_id": 0, "caption": "a dog", "true_image_id": 22,
            "image_candidates": [{"image_id": 11, "image_filename": "COCO_11.jpg"}, {"image_id": 22, "image_filename": "COCO_22.jpg"}]}]
    (item,) = load_bison(_write(tmp_path, raw))
    assert item == BisonItem("a dog", "22", ["11", "22"], ["COCO_11.jpg", "COCO_22.jpg"], evaluation_id=0)
    assert item.label == "IMAGE#2"
    save_bison(tmp_path / "b.json", [item])
    assert load_bison(tmp_path / "b.json") == [item]


def test_nlvr2_round_trip_and_image_lookup(tmp_path):
    raw = [{"evaluation_id": 3, "identifier": "dev-850-0-0", "sentence": "Two dogs.", "label": "False"}]
    (item,) = load_nlvr2(_write(tmp_path, raw))
    assert item.label is False and item.image_ids == ["dev-850-0-img0", "dev-850-0-img1"]
    save_nlvr2(tmp_path / "n.json", [item])
    assert json.loads((tmp_path / "n.json").read_text()) == raw
    assert Nlvr2Item("test1-12-3-10", "s", True).image_ids == ["test1-12-3-img0", "test1-12-3-img1"]
    with pytest.raises(ValueError, match="identifier"):
        nlvr2_image_ids("nodash")


def test_nlvr2_bad_label_names_item(tmp_path):
    with pytest.raises(DataFormatError, match=r"item 0: NLVR2 label must be 'True' or 'False', got 'yes'"):
        load_nlvr2(_write(tmp_path, [{"identifier": "a-1-0-0", "sentence": "s", "label": "yes"}]))


def test_malformed_json_names_line_and_column(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('[\n {"dialogue": [}\n]')
    with pytest.raises(DataFormatError, match=r"bad.json: malformed JSON at line 2, column 16"):
        load_json(p)


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    write_json_atomic(tmp_path / "sub" / "x.json", {"a": 1})
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.json"]
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "sub" / "x.json", {"a": object()})
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.json"]
    assert json.loads((tmp_path / "sub" / "x.json").read_text()) == {"a": 1}


def _write(tmp_path, obj):
    p = tmp_path / "in.json"
    p.write_text(json.dumps(obj))
    return p


# ---------------------------------------------------------------- per-turn and LLaVA-for-Sparkles items

def test_official_turn_item_with_integer_vg_ids():
    """SparklesDialogueVG_turn2_3img.json: VG ids are integers, tgt_imgs = turn-1 images + turn-2 image."""
    raw = {"uniform_question": f"And IMAGE#2370829{IMAGE_BLOCK}?",
           "instruction": f"###Human: Compare IMAGE#61{IMAGE_BLOCK} and IMAGE#713{IMAGE_BLOCK}.###Assistant: "
                          f"They differ.###Human: And IMAGE#2370829{IMAGE_BLOCK}?###Assistant: ",
           "answer": "It is a park.",
           "tgt_imgs": [{"image_id": 61, "caption": "a"}, {"image_id": 713, "caption": "b"},
                        {"image_id": 2370829, "caption": "c"}]}
    t = turn_from_dict(raw)
    assert [m.role for m in t.history] == ["user", "assistant", "user"]
    assert [[r.image_id for r in m.images] for m in t.history] == [["61", "713"], [], ["2370829"]]
    assert [r.image_id for r in t.images] == ["61", "713", "2370829"]


def test_llava_for_sparkles_placeholders_take_tgt_imgs_in_order():
    """format_LLaVA writes four placeholder styles; the k-th placeholder is tgt_imgs[k]."""
    for question in (f"What is in the {IMAGE_BLOCK}?", f"What is in the image {IMAGE_BLOCK}?",
                     f"What is in IMAGE#000000215677{IMAGE_BLOCK}?",
                     f"Looking at image of IMAGE#000000215677{IMAGE_BLOCK}, what is there?"):
        t = turn_from_dict({"question": "What is in the image?", "uniform_question": question, "answer": "A cat.",
                            "tgt_imgs": [{"image_id": "000000215677", "caption": "A cat."}]})
        assert t.history[0].content == question and [r.image_id for r in t.history[0].images] == ["000000215677"]


def test_turn_item_whose_ids_disagree_with_tgt_imgs_is_refused():
    raw = {"uniform_question": f"IMAGE#2{IMAGE_BLOCK} and IMAGE#1{IMAGE_BLOCK}?", "answer": "a",
           "tgt_imgs": [{"image_id": 1, "caption": ""}, {"image_id": 2, "caption": ""}]}
    with pytest.raises(DataFormatError, match=r"x: placeholder 1 is IMAGE#2 but tgt_imgs\[0\] is image 1"):
        turn_from_dict(raw, "x")
    with pytest.raises(DataFormatError, match=r"1 placeholder\(s\) in the instruction but 2 tgt_imgs"):
        turn_from_dict({**raw, "uniform_question": f"IMAGE#1{IMAGE_BLOCK}?"}, "x")


def test_bison_needs_exactly_two_candidates(tmp_path):
    raw = {"caption": "c", "true_image_id": 1, "image_candidates": [{"image_id": i} for i in (1, 2, 3)]}
    with pytest.raises(DataFormatError, match=r"item 0: image_candidates must be a list of two"):
        load_bison(_write(tmp_path, [raw]))


def test_layouts_are_detected_and_a_wrong_one_is_named(tmp_path):
    from sparkles_lite.data.io import read_layout
    p = _write(tmp_path, [DIALOGUE])
    assert len(read_layout(p)) == 1 and len(load_dialogues(p)) == 1  # an eval item reads as a dialogue too
    with pytest.raises(DataFormatError, match=r"a SparklesEval: two-turn dialogues with an evaluation_id file, not BISON"):
        load_bison(p)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataFormatError, match=r"bin.json: not UTF-8 text"):
        read_layout(tmp_path / "bin.json")
