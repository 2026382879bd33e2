"""`python -m sparkles_lite check`: OK here; a FAIL line and a non-zero exit when something is wrong;
the transformers floor enforced with one line where the shipped tokenizer is loaded."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from sparkles_lite import check, versions
from sparkles_lite.assets import LITE_LM
from sparkles_lite.cli import main
from sparkles_lite.model.tokenizer import load_tokenizer


def _old_transformers(monkeypatch, module):
    real = module.version
    monkeypatch.setattr(module, "version", lambda name: "4.57.1" if name == "transformers" else real(name))


def test_everything_passes_in_the_test_environment(capsys):
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[:5]] == [
        ["OK", "python"], ["OK", "packages"], ["OK", "weights"], ["OK", "chat"], ["OK", "kernel"]]
    assert "transformers 5." in lines[1] and lines[-1] == "ready for the lessons"


def test_a_fail_is_one_line_and_a_non_zero_exit(monkeypatch, capsys):
    _old_transformers(monkeypatch, importlib.metadata)

    def no_weights(state):
        raise check.CheckFailed("shipped model 'sparkleschat-lite' is missing")

    monkeypatch.setattr(check, "check_weights", no_weights)
    assert main(["check"]) == 1
    out = capsys.readouterr().out.splitlines()
    fails = {line.split()[1]: line for line in out if line.startswith("FAIL")}
    assert set(fails) == {"packages", "weights", "chat"}, out
    assert 'sparkles-lite needs transformers>=5.0 (found 4.57.1): pip install -U "transformers>=5.0"' in fails["packages"]
    assert out[0].startswith("OK   python") and out[-1].startswith("not ready")


def test_an_unexpected_error_in_a_check_is_reported_not_raised(monkeypatch):
    monkeypatch.setattr(check, "check_python", lambda: {}["boom"])
    lines: list[str] = []
    monkeypatch.setattr(check, "check_weights", lambda state: "skipped")
    monkeypatch.setattr(check, "check_answer", lambda state: "skipped")
    assert check.run_checks(out=lines.append) is False
    assert lines[0].startswith("FAIL python   KeyError: 'boom'")


def test_a_kernel_counts_only_when_it_runs_this_environment():
    here = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    other = {"argv": ["/opt/elsewhere/bin/python", "-m", "ipykernel_launcher"]}
    assert check.kernel_runs_this_python({"mine": {"spec": here}, "theirs": {"spec": other}}, False) == "mine"
    assert check.kernel_runs_this_python({"theirs": {"spec": other}}, True) is None
    assert check.kernel_runs_this_python({"python3": {"spec": here}}, jupyter_here=False) is None
    assert check.kernel_runs_this_python({"python3": {"spec": here}}, jupyter_here=True) == "python3"


def test_the_floor_is_the_one_pyproject_declares():
    assert versions.declared_floor("transformers") == "5.0"
    assert versions.declared_floor("pillow") is None
    assert versions.too_old("transformers", "5.0.0rc1") is None and versions.too_old("transformers", "4.57.1")


def test_an_old_transformers_fails_with_one_line_naming_the_version(monkeypatch):
    _old_transformers(monkeypatch, versions)
    with pytest.raises(versions.DependencyTooOld) as e:
        load_tokenizer(LITE_LM)
    assert str(e.value) == 'sparkles-lite needs transformers>=5.0 (found 4.57.1): pip install -U "transformers>=5.0"'
