"""`data show` (an HTML page of a data file) and `data stats` (its numbers), on the shipped samples and
on hostile input."""

import json
import re
from pathlib import Path

from PIL import Image

from sparkles_lite.assets import sample_folder
from sparkles_lite.cli import main
from sparkles_lite.data.schema import IMAGE_BLOCK
from sparkles_lite.data.stats import dataset_stats, opening

ROOT = Path(__file__).resolve().parent.parent
LITE, PHOTOS = sample_folder("lite"), sample_folder("photos")
EVIL = "<script>alert('x')</script>"


def test_show_puts_each_image_where_its_placeholder_is(tmp_path, capsys):
    out = tmp_path / "page.html"
    assert main(["data", "show", str(PHOTOS / "dialogues.json"), "--images", str(PHOTOS), "--out", str(out),
                 "--first", "2"]) == 0
    page = out.read_text()
    dialogues = json.loads((PHOTOS / "dialogues.json").read_text())[:2]
    placeholders = sum(m["content"].count(IMAGE_BLOCK) for d in dialogues for m in d["dialogue"])
    assert page.count("<img class='inline' src='data:image/png;base64,") == placeholders
    assert "dialogue 1" in page and "dialogue 2" not in page and "<ImageHere>" not in page
    assert dialogues[0]["dialogue"][0]["images"][0]["caption"] in page


def test_show_escapes_every_text_and_names_missing_images(tmp_path):
    d = {"dialogue": [
        {"role": "user", "content": f"Is {EVIL} in IMAGE#a{IMAGE_BLOCK} or IMAGE#b{IMAGE_BLOCK}?",
         "images": [{"image_id": "a", "caption": EVIL}, {"image_id": "b", "caption": "fine"}]},
        {"role": "assistant", "content": f"IMAGE#a: {EVIL}"}]}
    (tmp_path / "annotations").mkdir()
    (tmp_path / "images").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / "images" / "a.jpg")
    data = tmp_path / "annotations" / "d.json"
    data.write_text(json.dumps([d]))
    out = tmp_path / "page.html"
    assert main(["data", "show", str(data), "--out", str(out)]) == 0  # images/ beside annotations/
    page = out.read_text()
    assert EVIL not in page and "&lt;script&gt;" in page
    assert "image &#x27;b&#x27; not found" in page and page.count("<img class='inline'") == 1


def test_show_and_stats_refuse_a_broken_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"dialogue": [{"role": "user", "content": "hi"}]}]))
    assert main(["data", "stats", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"data stats: {bad}: dialogue 0: odd number of messages (1)") and "\n" not in err


def test_stats_of_the_lite_sample():
    s = dataset_stats(LITE / "sparkles_dialogue.json")
    raw = json.loads((LITE / "sparkles_dialogue.json").read_text())
    assert s.n_items == len(raw) and sum(s.images_per_item.values()) == len(raw) and s.turns_per_item == {2: len(raw)}
    assert len(s.question_words) == len(s.answer_words) == 2 * len(raw)
    first_q = raw[0]["dialogue"][0]["content"]
    assert s.question_words[0] == len(re.sub(re.escape(IMAGE_BLOCK), "", first_q).split())
    assert opening(first_q) in s.openings and opening("Here are IMAGE#3<Img><ImageHere></Img> and") == "here are IMAGE#…"
    bison = dataset_stats(LITE / "bison.json")
    assert bison.answers == {"IMAGE#1": 10, "IMAGE#2": 10} and bison.images_per_item == {2: 20}


def test_stats_cli_prints_and_plots(tmp_path, capsys):
    plot = tmp_path / "stats.png"
    assert main(["data", "stats", str(PHOTOS / "dialogues.json"), "--plot", str(plot)]) == 0
    text = capsys.readouterr().out
    assert "5 dialogues" in text and "words per answer: mean" in text and "most common question openings" in text
    assert plot.stat().st_size > 1000
