"""Lite evaluation helpers: verdicts only where the intervals separate."""

from sparkles_lite.eval.lite_eval import format_table, verdicts


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
    from sparkles_lite.eval.table import ORACLE_ROW, build_table, format_sparkles_eval

    results = build_table(n=2, device="cpu", batch_size=2, models={"SparklesChat-lite": "sparkleschat-lite"},
                          sparkles_eval_n=2)
    assert list(results["rows"]) == ["SparklesChat-lite", ORACLE_ROW]
    assert all(r["n"] == 2 for row in results["rows"].values() for r in row.values())
    assert set(results["sparkles_eval"]) == {"SparklesChat-lite", ORACLE_ROW}
    assert all(s["n_judged"] == 2 and 1 <= s["overall"] <= 10 for s in results["sparkles_eval"].values())
    assert f"| {ORACLE_ROW} |" in format_sparkles_eval(results)
