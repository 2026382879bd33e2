"""`python -m sparkles_lite eval`: every task end to end on lite data, resuming, summaries, reports.

Real shipped models (`sparkleschat-lite`, `minigpt4-lite`) answer 4 items per task; the tests check
the plumbing, never the (retrainable) accuracy. No test contacts a remote host: SparklesEval talks
to the offline judge on loopback, and the paid-judge test stops before anything is sent.
"""

import json
from pathlib import Path

import pytest
from PIL import Image

from sparkles_lite.assets import sample_folder
from sparkles_lite.cli import main
from sparkles_lite.data.schema import USER, ImageRef, Message
from sparkles_lite.eval import model_answer, runs
from sparkles_lite.eval.judge import SCORE_KEYS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = sample_folder("lite")
CHOICE_KEYS = {"task", "n", "correct", "accuracy", "ci95", "unparsable", "accuracy_parsable", "retried",
               "protocol", "max_attempts", "asks", "mean_attempts", "do_sample", "temperature", "top_p",
               "prompt_style", "seed", "model", "data", "images", "limit", "max_new_tokens", "elapsed_s"}
EVIL = "<script>alert('x')</script>"


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_bison_default_lite_data_end_to_end(tmp_path, capsys):
    out = tmp_path / "bison"
    assert main(["eval", "--model", "sparkleschat-lite", "--task", "bison", "--out", str(out), "--limit", "4"]) == 0
    text = capsys.readouterr().out
    assert "bison (strict protocol): accuracy" in text and "n=4" in text
    assert (out / "data" / "bison.json").exists() and (out / "data" / "images").is_dir()  # generated on the fly
    records = _lines(out / "predictions.jsonl")
    assert [r["id"] for r in records] == ["0", "1", "2", "3"]
    assert all(r["gold"] in ("IMAGE#1", "IMAGE#2") and r["image_ids"][0] for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert CHOICE_KEYS <= set(summary) and summary["n"] == 4 and summary["model"] == "sparkleschat-lite"
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "BISON" in page


def test_nlvr2_on_shipped_sample(tmp_path, capsys):
    out = tmp_path / "nlvr2"
    args = ["eval", "--model", "minigpt4-lite", "--task", "nlvr2", "--out", str(out), "--limit", "4",
            "--data", str(SAMPLE / "nlvr2.json"), "--protocol", "paper", "--max-attempts", "2"]
    assert main(args) == 0
    records = _lines(out / "predictions.jsonl")
    assert len(records) == 4 and {r["gold"] for r in records} <= {"TRUE", "FALSE"}
    assert records[0]["image_ids"] == ["lite-0-0-img0", "lite-0-0-img1"]
    summary = json.loads((out / "summary.json").read_text())
    assert CHOICE_KEYS <= set(summary) and summary["max_attempts"] == 2 and summary["images"].endswith("images")
    assert summary["protocol"] == "paper" and summary["do_sample"] is True and 1 <= summary["mean_attempts"] <= 2
    assert (out / "report.html").exists()


def test_sparkles_eval_with_offline_judge(tmp_path, capsys):
    out = tmp_path / "se"
    args = ["eval", "--model", "sparkleschat-lite", "--task", "sparkles-eval", "--out", str(out), "--limit", "4",
            "--data", str(SAMPLE / "sparkles_eval.json"), "--images", str(SAMPLE / "images")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "offline lite judge, started at http://127.0.0.1:" in text and "cost estimate: 4 judge requests" in text
    records = _lines(out / "results.jsonl")
    assert [r["id"] for r in records] == ["0", "1", "2", "3"] and all(len(r["answers"]) == 2 for r in records)
    summary = json.loads((out / "summary.json").read_text())
    assert {"n", "n_judged", "n_failed", "A1", "A2", "overall", "ci95", "criteria", "judge_model", "model",
            "offline_judge", "cost_estimate"} <= set(summary)
    assert summary["n"] == summary["n_judged"] == 4 and summary["offline_judge"] is True
    assert set(SCORE_KEYS) | {"C1", "C2", "C3"} <= set(summary["criteria"])
    assert 1 <= summary["overall"] <= 10
    assert "Dialogue 0" in (out / "report.html").read_text()
    # a second run finds every dialogue logged: nothing re-answered, nothing re-judged
    assert main(args) == 0
    assert "4/4 done" not in capsys.readouterr().out and len(_lines(out / "results.jsonl")) == 4


def test_resume_after_interruption_and_report_escapes_html(tmp_path, monkeypatch):
    calls = []

    def fake_answer_fn(model, **kwargs):
        def answer(messages, images):
            if len(calls) == 2 and not calls[-1] == "resumed":
                raise KeyboardInterrupt
            calls.append(messages[-1].content)
            assert sorted(images) == ["1", "2"] and all(isinstance(i, Image.Image) for i in images.values())
            return f"{EVIL} The answer is IMAGE#2."
        return answer

    monkeypatch.setattr(runs, "load_model", lambda model, device, dtype: None)
    monkeypatch.setattr(model_answer, "model_answer_fn", fake_answer_fn)
    out = tmp_path / "b"
    args = ["eval", "--model", "fake", "--task", "bison", "--out", str(out), "--limit", "4",
            "--data", str(SAMPLE / "bison.json")]
    with pytest.raises(KeyboardInterrupt):
        main(args)
    assert len(_lines(out / "predictions.jsonl")) == 2 and not (out / "summary.json").exists()
    calls.append("resumed")
    assert main(args) == 0
    assert len(calls) == 2 + 1 + 2  # only the two missing items were asked again
    records = _lines(out / "predictions.jsonl")
    assert [r["id"] for r in records] == ["0", "1", "2", "3"] and all(r["extracted"] == "IMAGE#2" for r in records)
    assert json.loads((out / "summary.json").read_text())["n"] == 4
    page = (out / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_paid_judge_prints_cost_and_needs_yes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    monkeypatch.setattr(runs, "load_model", lambda model, device, dtype: pytest.fail("must not load the model"))
    out = tmp_path / "paid"
    args = ["eval", "--model", "sparkleschat-lite", "--task", "sparkles-eval", "--out", str(out), "--limit", "3",
            "--data", str(SAMPLE / "sparkles_eval.json"), "--judge-base-url", "https://judge.example.invalid/v1",
            "--judge-model", "gpt-4o", "--price-per-1k", "0.01"]
    assert main(args) == 3
    text = capsys.readouterr().out
    assert "judge: gpt-4o at https://judge.example.invalid/v1" in text
    assert "cost estimate: 3 judge requests (0 cached, free)" in text and "at $0.01/1k tokens" in text
    assert "--yes" in text and not (out / "results.jsonl").exists()
    assert main(args[:-4] + ["--judge-base-url", "https://judge.example.invalid/v1"]) == 2  # no judge model


def test_lite_table_prints_paper_beside_lite(tmp_path, capsys):
    row = {t: {"accuracy": 0.5, "ci95": [0.4, 0.6], "n": 10, "correct": 5} for t in ("bison", "nlvr2")}
    results = {"n": 10, "tasks": ["bison", "nlvr2"],
               "rows": {"MiniGPT-4-lite (stage 1)": row,
                        "SparklesChat-lite (stage 2)": {**row, "bison": {**row["bison"], "accuracy": 0.625}},
                        "text oracle (LM reads true scene words)": {**row, "nlvr2": {**row["nlvr2"],
                                                                                    "accuracy": 0.875}}},
               "sparkles_eval": {"text oracle (LM reads true scene words)": {"A1": 9.0, "A2": 8.0, "overall": 8.5,
                                                                             "n_judged": 10}}}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    runs = tmp_path / "runs" / "se"
    runs.mkdir(parents=True)
    (runs / "summary.json").write_text(json.dumps({"task": "sparkles-eval", "model": "sparkleschat-lite",
                                                    "overall": 7.25}))
    assert main(["eval", "--task", "lite-table", "--results", str(path), "--out", str(tmp_path / "runs")]) == 0
    text = capsys.readouterr().out
    assert "| SparklesChat-lite (stage 2) | 62.5 [40.0, 60.0] | 50.0 [40.0, 60.0] |" in text
    assert "| BISON (acc. %) | 56.7 | 46.0 | - | 62.5 | 50.0 | 50.0 |" in text
    assert "| NLVR2 (acc. %) | 58.0 | 51.3 | - | 50.0 | 50.0 | 87.5 |" in text
    assert "| SparklesEval (score /10) | 8.56 | 3.91 | 9.26 | 7.25 | - | 8.50 |" in text
    assert main(["eval", "--task", "lite-table", "--results", str(tmp_path / "missing.json")]) == 1
    assert "no saved lite table" in capsys.readouterr().out


def test_text_oracle_reads_true_scenes_of_lite_data(tmp_path, capsys):
    out = tmp_path / "oracle"
    args = ["eval", "--model", "text-oracle", "--task", "sparkles-eval", "--out", str(out), "--limit", "2",
            "--data", str(SAMPLE / "sparkles_eval.json")]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "text-oracle" and summary["n_judged"] == 2
    # the oracle sees slot words, not pixels: its answers name the sample's image ids
    assert all("IMAGE#" in a for r in _lines(out / "results.jsonl") for a in r["answers"][:1])
    # data without scenes.json (e.g. the real SparklesEval) has no true scenes: a clear error, nothing run
    bare = tmp_path / "real"
    bare.mkdir()
    (bare / "bison.json").write_text((SAMPLE / "bison.json").read_text())
    args = ["eval", "--model", "text-oracle", "--task", "bison", "--out", str(tmp_path / "b"), "--limit", "2",
            "--data", str(bare / "bison.json"), "--images", str(SAMPLE / "images")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "scenes.json" in err and "text oracle runs only on lite data" in err


def test_oracle_answer_fn_names_an_image_without_a_scene():
    from sparkles_lite.lite.files import load_scenes
    from sparkles_lite.lite.oracle import oracle_answer_fn

    fn = oracle_answer_fn(lm=None, tokenizer=None, scenes=load_scenes(SAMPLE))
    msg = Message(USER, "What is in IMAGE#nope<Img><ImageHere></Img>?", [ImageRef("nope", "")])
    with pytest.raises(KeyError, match="IMAGE#nope"):
        fn([msg], {})


def test_bad_arguments(tmp_path, capsys):
    assert main(["eval", "--task", "bison", "--out", str(tmp_path)]) == 2
    assert main(["eval", "--task", "bison", "--model", "x", "--out", str(tmp_path), "--data", "nope.json"]) == 2
    assert "needs --model" in capsys.readouterr().err


def test_model_answer_fn_passes_images_in_placeholder_order():
    seen = {}

    class FakeModel:
        def generate(self, messages, images, **kw):
            seen.update(images=images, **kw)
            return type("G", (), {"text": "ok"})()

    fn = model_answer.model_answer_fn(FakeModel(), max_new_tokens=7)
    a, b = Image.new("RGB", (4, 4), "red"), Image.new("RGB", (4, 4), "blue")
    messages = [Message(USER, "IMAGE#9<Img><ImageHere></Img> then IMAGE#3<Img><ImageHere></Img>?",
                        [ImageRef("9"), ImageRef("3")])]
    assert fn(messages, {"3": a, "9": b}) == "ok"
    assert seen["images"] == [b, a] and seen["max_new_tokens"] == 7 and seen["do_sample"] is False
    sampled = model_answer.model_answer_fn(FakeModel(), do_sample=True, temperature=1.0, top_p=0.9)
    sampled(messages, {"3": a, "9": b}, attempt=1)
    assert seen["do_sample"] is True and seen["top_p"] == 0.9
    seeds = {model_answer.sampling_seed(0, messages, k) for k in (0, 1)} | {model_answer.sampling_seed(1, messages, 0)}
    assert len(seeds) == 3 and model_answer.sampling_seed(0, messages, 1) == model_answer.sampling_seed(0, messages, 1)
    with pytest.raises(KeyError, match="IMAGE#9"):
        fn(messages, {"3": a})
