"""Lite evaluation helpers: verdicts only where the intervals separate."""

from sparkles_lite.lite.eval import (MAJORITY_ROW, baselines, constant_answerers, format_table, majority_answerer,
                                     run_task, verdicts)
from sparkles_lite.lite.tasks import LiteGenerator


def _row(acc, low, high):
    return {"accuracy": acc, "ci95": [low, high], "n": 400, "correct": int(400 * acc)}


def test_verdicts_need_non_overlapping_intervals():
    rows = {"a": {"select": _row(0.4, 0.35, 0.45), "bison": _row(0.6, 0.55, 0.65), "caption": _row(0.3, 0.25, 0.35)},
            "b": {"select": _row(0.1, 0.07, 0.13), "bison": _row(0.58, 0.53, 0.63), "caption": _row(0.9, 0.87, 0.93)}}
    lines = verdicts(rows, "a", "b", ("select", "bison", "caption"))
    assert "better" in lines[0] and "no clear difference" in lines[1] and "worse" in lines[2]
    assert "40.0% vs 10.0%" in lines[0]
    assert "| a | 40.0 [35.0, 45.0]" in format_table(rows, ("select",))


def test_build_table_scores_models_and_the_text_oracle_on_both_protocols():
    from sparkles_lite.lite.table import ORACLE_ROW, build_table, format_sparkles_eval

    results = build_table(n=2, device="cpu", batch_size=2, models={"SparklesChat-lite": "sparkleschat-lite"},
                          sparkles_eval_n=2)
    assert list(results["rows"]) == ["SparklesChat-lite", ORACLE_ROW, MAJORITY_ROW]
    assert all(r["n"] == 2 for row in results["rows"].values() for r in row.values())
    assert all(sum(c["n"] for c in r["per_class"].values()) == 2 for row in results["rows"].values()
               for r in row.values())
    assert set(results["constant_answers"]) == {"bison", "nlvr2", "select"}
    for key, protocol in (("sparkles_eval", "reference"), ("sparkles_eval_paper", "paper")):
        assert set(results[key]) == {"SparklesChat-lite", ORACLE_ROW}
        assert all(s["n_judged"] == 2 and 1 <= s["overall"] <= 10 and s["judge_protocol"] == protocol
                   for s in results[key].values())
    assert f"| {ORACLE_ROW} |" in format_sparkles_eval(results)


def test_per_class_accuracy_exposes_a_model_that_leans_to_one_answer():
    """A constant answer scores exactly the share of its class, and the per-class cells show the lean:
    checked on a set built unbalanced on purpose (3 IMAGE#1 items, 1 IMAGE#2)."""
    gen = LiteGenerator(5)
    examples = [gen.bison(gold=0) for _ in range(3)] + [gen.bison(gold=1)]
    always_1 = constant_answerers("bison")["always IMAGE#1"]
    r = run_task(always_1, examples)
    assert r["accuracy"] == 0.75
    assert {c: (v["n"], v["accuracy"]) for c, v in r["per_class"].items()} == {"IMAGE#1": (3, 1.0), "IMAGE#2": (1, 0.0)}
    assert run_task(majority_answerer(examples), examples)["accuracy"] == 0.75  # the majority is IMAGE#1


def test_the_blind_baselines_score_chance_on_the_balanced_sets_and_little_on_open_answers():
    b = baselines(n=48)
    for task in ("bison", "nlvr2"):
        assert list(b["constant"][task].values()) == [0.5, 0.5]
        assert b["majority"][task]["accuracy"] == 0.5
    first, last = b["constant"]["select"].values()
    assert 0.25 < first < 0.5 and 0.25 < last < 0.5  # 2-4 images, the answer's position uniform
    # the majority class of select is a position (the first image: every question has one), not a sentence
    assert b["majority"]["select"]["accuracy"] == first
    assert b["majority"]["caption"]["accuracy"] < 0.1 and b["majority"]["dialogue"]["accuracy"] < 0.2
    assert {c.split(":")[0] for c in b["majority"]["dialogue"]["per_class"]} == {"turn 2"}


def test_majority_answers_name_images_by_position():
    """'IMAGE#x7 has more objects.' learnt on one example answers 'IMAGE#a1 ...' on another whose first
    image is a1: the id follows the position, so the baseline is not scored wrong for a foreign id."""
    gen = LiteGenerator(9)
    examples = [gen.single("more", n_images=2) for _ in range(9)]
    answers = majority_answerer(examples)([(ex.messages[:1], ex) for ex in examples])
    assert all(any(f"IMAGE#{i}" in a for i in ex.image_ids) for a, ex in zip(answers, examples))
