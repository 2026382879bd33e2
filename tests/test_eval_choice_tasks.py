import json

import pytest
from PIL import Image

from sparkles_lite.data.schema import placeholder_ids
from sparkles_lite.eval.choice_tasks import PREDICTIONS, bison_item, nlvr2_item, run_choice_task
from sparkles_lite.eval.protocols import SUMMARY

RED, BLUE = Image.new("RGB", (4, 4), "red"), Image.new("RGB", (4, 4), "blue")
LOOKUP = {"r": RED, "b": BLUE}.__getitem__


def _items(n=6):
    # the red image is the true one; it sits at IMAGE#1 for even items, IMAGE#2 for odd ones
    return [bison_item(f"i{k}", "a red square", ["r", "b"] if k % 2 == 0 else ["b", "r"],
                       "IMAGE#1" if k % 2 == 0 else "IMAGE#2") for k in range(n)]


class Oracle:
    """Looks at the pixels it is given: proves the images arrive in the item's order."""

    def __init__(self, fail_after=None):
        self.calls = []
        self.fail_after = fail_after

    def __call__(self, messages, images):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("killed")
        (msg,) = messages
        assert placeholder_ids(msg.content) == ["1", "2"] and sorted(images) == ["1", "2"]
        self.calls.append(msg.content)
        red = "1" if images["1"].getpixel((0, 0)) == (255, 0, 0) else "2"
        return f"The answer is IMAGE#{red}."


def test_bison_run_and_summary(tmp_path):
    summary = run_choice_task("bison", _items(), Oracle(), tmp_path, image_lookup=LOOKUP, seed=7)
    assert summary["accuracy"] == 1.0 and summary["n"] == 6 and summary["unparsable"] == 0
    assert summary["seed"] == 7 and summary["task"] == "bison" and summary["retried"] == 0
    assert 0.5 < summary["ci95"][0] < summary["ci95"][1] == 1.0
    lines = [json.loads(x) for x in (tmp_path / PREDICTIONS).read_text().splitlines()]
    assert [r["id"] for r in lines] == [f"i{k}" for k in range(6)]
    assert {"id", "prompt", "response", "extracted", "gold", "correct", "attempts"} <= set(lines[0])
    assert json.loads((tmp_path / SUMMARY).read_text()) == summary


def test_killed_run_resumes_without_repeats_or_losses(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_choice_task("bison", _items(), Oracle(fail_after=3), tmp_path, image_lookup=LOOKUP)
    path = tmp_path / PREDICTIONS
    with open(path, "a") as f:
        f.write('{"id": "i3", "prompt": "half a li')  # the write the kill interrupted
    second = Oracle()
    summary = run_choice_task("bison", _items(), second, tmp_path, image_lookup=LOOKUP)
    assert len(second.calls) == 3  # i3, i4, i5 only
    ids = [json.loads(x)["id"] for x in path.read_text().splitlines()]
    assert ids == [f"i{k}" for k in range(6)] and summary["n"] == 6


def test_corrupted_middle_line_refuses_to_resume(tmp_path):
    (tmp_path / PREDICTIONS).write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(ValueError, match="line 2"):
        run_choice_task("bison", _items(), Oracle(), tmp_path, image_lookup=LOOKUP)


def test_unparsable_counted_not_retried_by_default(tmp_path):
    calls = []

    def vague(messages, images):
        calls.append(1)
        return "Both images are nice."

    s = run_choice_task("nlvr2", [nlvr2_item("n0", "there is a red square", [RED, BLUE], True)], vague, tmp_path)
    assert len(calls) == 1 and s["unparsable"] == 1 and s["accuracy"] == 0.0 and s["retried"] == 0


def test_paper_protocol_asks_again_until_it_parses_and_reports_attempts(tmp_path):
    seen = []

    def sampler(messages, images, attempt=0):
        seen.append(attempt)
        return "Hmm." if attempt < 2 else "FALSE"

    items = [nlvr2_item("n0", "there is a red square", [RED, BLUE], False),
             nlvr2_item("n1", "there is a red square", [RED, BLUE], False)]
    s = run_choice_task("nlvr2", items, sampler, tmp_path, protocol="paper", max_attempts=3)
    assert seen == [0, 1, 2] * 2 and s["retried"] == 2 and s["unparsable"] == 0 and s["accuracy"] == 1.0
    assert s["protocol"] == "paper" and s["asks"] == 6 and s["mean_attempts"] == 3.0
    assert (s["do_sample"], s["temperature"], s["top_p"], s["max_attempts"]) == (True, 1.0, 0.9, 3)
    record = json.loads((tmp_path / PREDICTIONS).read_text().splitlines()[0])
    assert record["attempts"] == 3 and record["earlier_responses"] == ["Hmm.", "Hmm."]
    assert record["protocol"] == "paper"
    capped = run_choice_task("nlvr2", items[:1], lambda m, i, attempt=0: "Hmm.", tmp_path / "cap",
                             protocol="paper", max_attempts=2)
    assert capped["unparsable"] == 1 and capped["accuracy"] == 0.0 and capped["asks"] == 2
    with pytest.raises(ValueError, match="answers from the paper protocol; use another --out"):
        run_choice_task("nlvr2", items, sampler, tmp_path, protocol="strict")


def test_bad_items_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="gold"):
        run_choice_task("bison", [bison_item("x", "c", [RED, BLUE], "TRUE")], Oracle(), tmp_path)
    with pytest.raises(ValueError, match="duplicate"):
        run_choice_task("bison", _items(2) + _items(1), Oracle(), tmp_path, image_lookup=LOOKUP)
    with pytest.raises(ValueError, match="image_lookup"):
        run_choice_task("bison", _items(1), Oracle(), tmp_path)
    with pytest.raises(ValueError, match="unknown task"):
        run_choice_task("vqa", [], Oracle(), tmp_path)


def test_summary_reports_accuracy_per_gold_answer():
    """A model that always says IMAGE#1 scores 50% overall on a balanced set; per gold answer it is 100/0."""
    from sparkles_lite.eval.choice_tasks import summarise

    records = [{"id": str(i), "gold": g, "extracted": "IMAGE#1", "correct": g == "IMAGE#1", "attempts": 1}
               for i, g in enumerate(["IMAGE#1", "IMAGE#2"] * 3)]
    s = summarise("bison", records)
    assert s["accuracy"] == 0.5
    assert s["per_class"] == {"IMAGE#1": {"n": 3, "correct": 3, "accuracy": 1.0},
                              "IMAGE#2": {"n": 3, "correct": 0, "accuracy": 0.0}}
