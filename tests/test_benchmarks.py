"""benchmarks/train_throughput.py runs end to end for the lite preset and reports what it promises.

Timings are never checked (a shared CI machine makes them meaningless); only that the JSON has
the keys the README documents and that the numbers are sane in sign and range.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "train_throughput.py"
LOOP_KEYS = {"steps", "seconds", "samples_per_s", "tokens_per_s", "padding_fraction", "mean_batch_positions",
             "step_ms"}


def _run(*args: str) -> dict:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--threads", "1", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_lite_json_keys():
    report = _run("--presets", "lite", "--steps", "2", "--warmup", "2", "--batch-size", "2")
    assert {"device", "threads", "torch", "steps", "warmup", "batch_size", "lengths", "results"} <= set(report)
    assert report["steps"] == 2 and report["warmup"] == 2 and report["batch_size"] == 2
    assert report["lengths"] == "sparkles"
    assert set(report["results"]) == {"lite"}
    lite = report["results"]["lite"]
    assert lite["status"] == "ok"
    assert {"parameters", "mean_tokens_per_sample", "images_per_sample", "naive", "optimized",
            "ratio_optimized_over_naive"} <= set(lite)
    assert LOOP_KEYS <= set(lite["naive"])
    assert LOOP_KEYS | {"cache_build_s", "samples_per_s_incl_cache"} <= set(lite["optimized"])
    for loop in (lite["naive"], lite["optimized"]):
        assert loop["steps"] == 2 and loop["samples_per_s"] > 0 and loop["tokens_per_s"] > 0
        assert len(loop["step_ms"]) == 2 and all(ms > 0 for ms in loop["step_ms"])
        assert 0 <= loop["padding_fraction"] < 1
    # the naive loop pads to max_length, so it always wastes at least as many positions
    assert lite["naive"]["padding_fraction"] >= lite["optimized"]["padding_fraction"]
    assert lite["ratio_optimized_over_naive"] > 0
    assert lite["parameters"]["trainable"] < lite["parameters"]["lm"]


def test_default_cpu_run_skips_full_presets_with_a_note(tmp_path):
    out = tmp_path / "bench.json"
    report = _run("--steps", "1", "--batch-size", "2", "--lengths", "equal", "--out", str(out))
    assert json.loads(out.read_text()) == report
    results = report["results"]
    assert results["lite"]["status"] == "ok"
    assert results["lite"]["naive"]["padding_fraction"] == 0 == results["lite"]["optimized"]["padding_fraction"]
    for name in ("smol", "qwen", "paper"):
        assert results[name]["status"] == "skipped" and results[name]["note"]


def test_pretrain_throughput_reports_both_loops_and_grouping_pads_less():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pretrain_throughput.py"), "--device", "cpu",
                           "--batch-size", "4", "--steps", "3", "--warmup", "1"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert set(report["loops"]) == {"random", "grouped"} and set(report["ratios_over_random"]) == {"grouped"}
    for loop in report["loops"].values():
        assert loop["steps"] == 3 and loop["sequences_per_s"] > 0 and loop["tokens_per_s"] > 0
    assert report["loops"]["grouped"]["padding_fraction"] < report["loops"]["random"]["padding_fraction"]


def test_preset_memory_reports_activations_and_the_t4_arithmetic():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "preset_memory.py"), "--preset", "lite",
                           "--device", "cpu", "--threads", "1", "--tokens", "120,240", "--steps", "1"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["precision"]["device"] == "cpu" and set(report["results"]) == {"120", "240"}
    short, long = report["results"]["120"], report["results"]["240"]
    assert len(short["step_ms"]) == 1 and short["median_step_ms"] > 0 and short["flops_per_step"] > 0
    # activations grow with the sequence; the frozen weights are not counted among them
    assert 0 < short["saved_activation_bytes"] < long["saved_activation_bytes"]
    t4 = report["t4"]["per_length"]
    assert t4["120"]["max_batch"] >= t4["240"]["max_batch"] > 0
    assert report["t4"]["weights_fp16_gib"] == round(2 * (report["parameters"]["vision"] + report["parameters"]["lm"])
                                                     / 2 ** 30, 2)
