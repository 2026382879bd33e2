"""Every validation error case names the file, the dialogue, the message and the id at fault."""

import json
from pathlib import Path

import pytest
from PIL import Image

from sparkles_lite.assets import sample_folder
from sparkles_lite.cli import main
from sparkles_lite.data.schema import IMAGE_BLOCK
from sparkles_lite.data.validate import validate_dialogue_file, validate_file

PHOTOS = sample_folder("photos")
B = IMAGE_BLOCK


def _good():
    return {"dialogue": [
        {"role": "user", "content": f"Compare IMAGE#a{B} with IMAGE#b{B}.",
         "images": [{"image_id": "a", "caption": "x"}, {"image_id": "b", "caption": "y"}]},
        {"role": "assistant", "content": "IMAGE#a is bigger."},
        {"role": "user", "content": f"And IMAGE#c{B}?", "images": [{"image_id": "c", "caption": "z"}]},
        {"role": "assistant", "content": "Smaller than IMAGE#a."},
    ]}


def _errors(tmp_path, items, **kw):
    p = tmp_path / "d.json"
    p.write_text(json.dumps(items))
    return [str(e) for e in validate_dialogue_file(p, **kw)]


def _one(tmp_path, mutate, dialogue_index=1):
    """Put a mutated dialogue after a good one, so the index in the message is checked too."""
    bad = _good()
    mutate(bad)
    errs = _errors(tmp_path, [_good(), bad])
    assert errs and all(e.startswith(str(tmp_path / "d.json") + f": dialogue {dialogue_index}") for e in errs), errs
    return errs


def test_good_file_is_valid(tmp_path):
    assert _errors(tmp_path, [_good(), _good()]) == []


def test_malformed_json_reports_line_and_column(tmp_path):
    p = tmp_path / "d.json"
    p.write_text('[{"dialogue": [\n  {"role": "user",, }]}]')
    (e,) = validate_dialogue_file(p)
    assert str(e) == f"{p}: malformed JSON at line 2, column 19: Expecting property name enclosed in double quotes"


def test_odd_number_of_messages(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"].pop())
    assert any("odd number of messages (3)" in e for e in errs)


def test_wrong_role_order(tmp_path):
    def swap(d):
        d["dialogue"][1]["role"], d["dialogue"][2]["role"] = "user", "assistant"
    errs = _one(tmp_path, swap)
    assert any(e.endswith("dialogue 1, message 1: expected role 'assistant' (messages alternate user/assistant, "
                          "starting with user), got 'user'") for e in errs)


def test_role_with_whitespace(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][0].update(role=" User"))
    assert any("message 0: role ' User' should be exactly 'user'" in e for e in errs)


def test_placeholder_count_differs_from_images(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][0]["images"].pop())
    assert any(f"message 0: 2 placeholder(s) {B} but 1 image(s) in images" in e for e in errs)
    assert any(f"message 0: unknown image id b: placeholder IMAGE#b{B}" in e for e in errs)


def test_listed_image_without_placeholder(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][2].update(content="And IMAGE#c?"))
    assert any(f"message 2: image c is listed in images but has no placeholder IMAGE#c{B}" in e for e in errs)


def test_unknown_image_id_in_placeholder(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][2].update(content=f"And IMAGE#c{B} or IMAGE#q{B}?"))
    assert any(f"message 2: unknown image id q: placeholder IMAGE#q{B} but no image with that id" in e for e in errs)


def test_unknown_image_id_mentioned_is_a_warning(tmp_path):
    """Text naming an image no message introduced misplaces nothing (no placeholder): the official
    reader takes such dialogues, so the file stays valid and the mention is reported as a warning."""
    bad = _good()
    bad["dialogue"][3]["content"] = "Unlike IMAGE#zz."
    report = _validate(tmp_path, [_good(), bad])
    assert report.ok and report.summary() == "OK: 2 dialogues, 3 images (1 warning(s))"
    assert [str(w).split(": ", 1)[1] for w in report.warnings] == [
        "dialogue 1, message 3: unknown image id zz: the text mentions IMAGE#zz, which no message so far introduces"]


def test_prefix_id_is_not_taken_for_another(tmp_path):
    def mutate(d):
        d["dialogue"][2] = {"role": "user", "content": f"And IMAGE#1417{B}?", "images": [{"image_id": "14", "caption": ""}]}
    errs = _one(tmp_path, mutate)
    assert any("image 14 is listed in images but has no placeholder" in e for e in errs)
    assert any("unknown image id 1417" in e for e in errs)


def test_duplicate_image_id_within_message(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][2]["images"].append({"image_id": "c", "caption": "again"}))
    assert any("message 2: image id c is listed 2 times in images" in e for e in errs)


def test_image_order_must_match_placeholders(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][0]["images"].reverse())
    assert any("message 0: images are listed in the order ['b', 'a'] but their placeholders appear "
               "in the order ['a', 'b']" in e for e in errs)


def test_image_introduced_twice(tmp_path):
    def mutate(d):
        d["dialogue"][2]["content"] = f"And IMAGE#a{B}?"
        d["dialogue"][2]["images"] = [{"image_id": "a", "caption": "x"}]
    errs = _one(tmp_path, mutate)
    assert any("message 2: image a is introduced again (first introduced in message 0)" in e for e in errs)


def test_assistant_with_placeholder(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][1].update(content=f"IMAGE#a{B} is bigger."))
    assert any(f"message 1: an assistant message contains a placeholder IMAGE#a{B}" in e for e in errs)


def test_empty_content(tmp_path):
    errs = _one(tmp_path, lambda d: d["dialogue"][3].update(content="  "))
    assert any(e.endswith("dialogue 1, message 3: empty content") for e in errs)


def test_missing_and_corrupt_image_files(tmp_path):
    images = tmp_path / "img"
    images.mkdir()
    Image.new("RGB", (4, 4)).save(images / "a.jpg")
    (images / "b.jpg").write_bytes(b"garbage")
    errs = _errors(tmp_path, [_good()], image_root=images)
    assert any("dialogue 0, message 0: image 'b' at" in e and "cannot be decoded" in e for e in errs), errs
    assert any("dialogue 0, message 2: image 'c' not found: tried" in e for e in errs), errs
    assert len(errs) == 2


def test_max_errors_stops_early(tmp_path):
    bad = {"dialogue": [{"role": "assistant", "content": ""}]}
    assert len(_errors(tmp_path, [bad] * 20, max_errors=5)) == 5


def test_photo_dialogues_are_valid():
    report = validate_file(PHOTOS / "dialogues.json", "auto", PHOTOS)
    assert report.ok, [str(e) for e in report.errors]
    assert report.summary() == "OK: 5 dialogues, 10 images"
    sources = json.loads((PHOTOS / "SOURCES.json").read_text())
    assert sorted(s["file"] for s in sources) == sorted(p.name for p in PHOTOS.glob("*.jpg"))
    assert sum(p.stat().st_size for p in PHOTOS.iterdir()) < 1.5e6


# ---------------------------------------------------------------- other layouts

def _validate(tmp_path, items, fmt="auto", **kw):
    p = tmp_path / "x.json"
    p.write_text(json.dumps(items))
    return validate_file(p, fmt, **kw)


def test_eval_needs_unique_evaluation_ids(tmp_path):
    report = _validate(tmp_path, [{**_good(), "evaluation_id": 1}, {**_good(), "evaluation_id": 1}, _good()], "eval")
    assert [str(e).split(": ", 1)[1] for e in report.errors] == [
        "dialogue 1: evaluation_id 1 repeats dialogue 0", "dialogue 2: missing key 'evaluation_id'"]


def test_bison_checks(tmp_path):
    images = tmp_path / "img"
    images.mkdir()
    Image.new("RGB", (4, 4)).save(images / "COCO_1.jpg")
    good = {"evaluation_id": 0, "caption": "c", "true_image_id": 1,
            "image_candidates": [{"image_id": 1, "image_filename": "COCO_1.jpg"}, {"image_id": 2, "image_filename": "COCO_2.jpg"}]}
    report = _validate(tmp_path, [good, {"caption": "c"}, {**good, "true_image_id": 3}], image_root=images)
    assert report.format == "bison"
    reasons = [str(e).split(": ", 1)[1] for e in report.errors]
    assert reasons[1] == "item 1: missing key(s) true_image_id, image_candidates"
    assert reasons[2] == "item 2: true_image_id 3 is not among the candidates ['1', '2']"
    assert reasons[0].startswith("item 0: image '2' not found: tried") and "COCO_2.jpg" in reasons[0]


def test_nlvr2_checks(tmp_path):
    images = tmp_path / "img"
    images.mkdir()
    for k in (0, 1):
        Image.new("RGB", (4, 4)).save(images / f"dev-1-0-img{k}.png")
    items = [{"identifier": "dev-1-0-0", "sentence": "s", "label": "True"},
             {"identifier": "dev-1-0-1", "sentence": "s", "label": "maybe"},
             {"identifier": "dev-2-0-0", "sentence": "s"},
             {"identifier": "dev-3-0-0", "sentence": "s", "label": "False"}]
    report = _validate(tmp_path, items, image_root=images)
    reasons = [str(e).split(": ", 1)[1] for e in report.errors]
    assert reasons[0] == "item 1: NLVR2 label must be 'True' or 'False', got 'maybe'"
    assert reasons[1] == "item 2: missing key(s) label"
    assert reasons[2].startswith("item 3: image 'dev-3-0-img0' not found")
    assert len(reasons) == 4  # img1 of item 3 too


def test_turn_file_checks(tmp_path):
    good = {"uniform_question": f"IMAGE#1{B}?", "instruction": f"###Human: IMAGE#1{B}?###Assistant: ",
            "answer": "a", "tgt_imgs": [{"image_id": 1, "caption": ""}]}
    report = _validate(tmp_path, [good, {**good, "tgt_imgs": []}])
    assert report.format == "turns"
    assert [str(e).split(": ", 1)[1] for e in report.errors] == [
        "item 1: placeholder 1 (IMAGE#1) has no entry in tgt_imgs (0 given)"]


# ---------------------------------------------------------------- CLI

def test_cli_validate_exit_codes(tmp_path, capsys):
    assert main(["data", "validate", str(PHOTOS / "dialogues.json"), "--images", str(PHOTOS)]) == 0
    assert capsys.readouterr().out.strip() == "OK: 5 dialogues, 10 images"
    bad = _good()
    bad["dialogue"][3]["content"] = ""
    p = tmp_path / "bad.json"
    p.write_text(json.dumps([bad]))
    assert main(["data", "validate", str(p), "--format", "dialogue"]) == 1
    assert capsys.readouterr().out.strip() == f"{p}: dialogue 0, message 3: empty content"


def test_cli_generate_writes_the_requested_counts(tmp_path, capsys):
    import json

    out = tmp_path / "lite"
    args = ["data", "generate", "--out", str(out), "--n-dialogues", "4", "--n-captions", "2", "--n-eval", "3",
            "--seed", "1"]
    assert main(args) == 0
    assert "sparkles_eval.json" in capsys.readouterr().out
    counts = {f: len(json.loads((out / f).read_text())) for f in
              ("sparkles_dialogue.json", "captions.json", "sparkles_eval.json", "bison.json", "nlvr2.json")}
    assert counts == {"sparkles_dialogue.json": 4, "captions.json": 2, "sparkles_eval.json": 3, "bison.json": 3,
                      "nlvr2.json": 3}
    assert main(["data", "generate", "--out", str(out), "--n-eval", "-1"]) == 2
    assert "counts must be >= 0" in capsys.readouterr().err


# ---------------------------------------------------------------- one declaration per layout

def _mutations():
    def set_(path, value):
        def f(d):
            target = d
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return f
    return [
        lambda d: d["dialogue"].pop(),
        set_(("dialogue", 0, "role"), " User"),
        lambda d: d["dialogue"][0]["images"].pop(),
        set_(("dialogue", 2, "content"), "And IMAGE#c?"),
        lambda d: d["dialogue"][0]["images"].reverse(),
        set_(("dialogue", 1, "content"), f"IMAGE#a{B} is bigger."),
        set_(("dialogue", 3, "content"), "  "),
        set_(("dialogue", 3, "content"), "Unlike IMAGE#zz."),  # a warning only: accepted by both
        set_(("dialogue", 0, "images"), "not a list"),
        set_(("dialogue", 0), ["not", "a", "message"]),
        set_(("dialogue",), {}),
    ]


@pytest.mark.parametrize("k", range(11))
def test_validate_accepts_exactly_what_training_and_evaluation_read(tmp_path, k):
    """`data validate` and the readers that `train --data` / `eval --data` use agree on every file."""
    from sparkles_lite.data.io import DataFormatError, read_layout

    bad = _good()
    _mutations()[k](bad)
    for fmt, items in (("dialogue", [_good(), bad]), ("eval", [{**_good(), "evaluation_id": 0},
                                                              {**bad, "evaluation_id": 1}])):
        report = _validate(tmp_path, items, fmt)
        try:
            read_layout(tmp_path / "x.json", fmt)
            read = True
        except DataFormatError as e:
            read = False
            assert str(e).startswith(str(report.errors[0])), (str(e), str(report.errors[0]))
        assert report.ok == read, (fmt, [str(e) for e in report.errors])


@pytest.mark.parametrize("layout,item", [
    ("bison", {"caption": "c", "true_image_id": 1, "image_candidates": [{"image_id": i} for i in (1, 2, 3)]}),
    ("bison", {"caption": "c", "true_image_id": 1, "image_candidates": [{"image_id": 1}, {"image_id": 2}]}),
    ("nlvr2", {"identifier": "nodash", "sentence": "s", "label": "True"}),
    ("nlvr2", {"identifier": "dev-1-0-0", "sentence": "s", "label": "True"}),
    ("turns", {"uniform_question": f"<Img><ImageHere></Img> and IMAGE#2{B}?", "answer": "a",
               "tgt_imgs": [{"image_id": 1}, {"image_id": 2}]}),
    ("turns", {"uniform_question": f"IMAGE#2{B} and IMAGE#1{B}?", "answer": "a",
               "tgt_imgs": [{"image_id": 1}, {"image_id": 2}]}),
    ("turns", {"instruction": f"###Human: IMAGE#1{B}?", "answer": "a", "tgt_imgs": [{"image_id": 1}]}),
])
def test_validate_and_the_readers_agree_on_every_layout(tmp_path, layout, item):
    from sparkles_lite.data.io import DataFormatError, read_layout

    report = _validate(tmp_path, [item])
    assert report.format == layout
    try:
        read_layout(tmp_path / "x.json")
        read = True
    except DataFormatError:
        read = False
    assert report.ok == read, [str(e) for e in report.errors]
