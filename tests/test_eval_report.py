
from PIL import Image

from sparkles_lite.eval.choice_tasks import bison_item, run_choice_task
from sparkles_lite.eval.judge import SCORE_KEYS
from sparkles_lite.eval.report import render_choice_report, render_sparkles_report, report_run

EVIL = "<script>alert('x')</script>"


def lookup(image_id):
    return Image.new("RGB", (64, 64), "red")


def _record(judgment_ok=True):
    ok = {"ok": True, "scores": {k: 7 for k in SCORE_KEYS}, "explanations": {k: f"IMAGE#3 fine {EVIL}" for k in SCORE_KEYS},
          "reply": "...", "error": None, "attempts": 1, "cached": False, "repeat": 0}
    failed = {"ok": False, "scores": None, "explanations": {}, "reply": EVIL, "error": "missing A1 C1",
              "attempts": 2, "cached": False, "repeat": 1}
    return {"id": "d<0>", "images": [["3", "a big red circle"], ["9", "a <b>small</b> square"]],
            "questions": ["What is in IMAGE#3<Img><ImageHere></Img>?", "And IMAGE#9?"],
            "answers": [f"IMAGE#3 shows {EVIL}", "IMAGE#42 <img src=x onerror=alert(1)>"],
            "references": ["IMAGE#3 shows a big red circle.", None],
            "judgments": [ok, failed] if judgment_ok else [failed], "scores": None, "failed": False}


def test_sparkles_report_escapes_everything(tmp_path):
    path = render_sparkles_report([_record()], tmp_path / "r.html", image_lookup=lookup,
                                  summary={"note": EVIL})
    page = path.read_text()
    assert "<script>" not in page and "<img src=x" not in page and "<b>small</b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert page.count("data:image/png;base64,") == 4  # per image: a thumbnail and a CSS class for hovers
    assert 'class="ref" title="a big red circle">IMAGE#3<span class="pop im-0">' in page
    assert "IMAGE#42" in page and 'IMAGE#42<span' not in page  # unknown ids stay plain text
    assert "judging failed: missing A1 C1" in page and "<Img>" not in page and "Reference:" in page


def test_choice_report_from_run(tmp_path):
    items = [bison_item("b0", "a red square", ["r", "g"], "IMAGE#1")]
    run_choice_task("bison", items, lambda m, i: f"IMAGE#1 {EVIL}", tmp_path, image_lookup=lookup)
    with open(tmp_path / "predictions.jsonl", "a") as f:
        f.write('{"id": "b1", "pro')  # a run still going
    page = report_run(tmp_path, image_lookup=lookup).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "IMAGE#1 (r)" in page
    assert "data:image/png;base64," in page and "correct" in page and '&quot;task&quot;: &quot;bison&quot;' in page
    assert render_choice_report([], tmp_path / "empty.html").exists()
