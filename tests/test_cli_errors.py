"""Issue 20, finding 16: every command line turns an expected error into one line,
`error: <what> (<file/id/flag>)`, and a non-zero exit; never a traceback. `--debug` shows it.

Each case is a bad input a user can make; the test runs the real command (in this process, or in a
fresh one where the hub must be offline) and checks the output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from sparkles_lite.assets import NAMED_MODELS, sample_folder
from sparkles_lite.chat import Chat, ChatError
from sparkles_lite.cli import main
from sparkles_lite.config import preset

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = sample_folder("lite")
IMAGES = SAMPLE / "images"
TRAIN = ["train", "--stage", "2", "--n-val", "1", "--batch-size", "2", "--max-steps", "1", "--eval-n", "0", "--quiet"]


def _model_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(NAMED_MODELS["minigpt4-lite"], folder)
    return folder


def _dialogues(tmp_path: Path, edit=None, name: str = "dialogues.json") -> Path:
    items = json.loads((SAMPLE / "sparkles_dialogue.json").read_text())[:2]
    if edit:
        edit(items)
    path = tmp_path / name
    path.write_text(json.dumps(items))
    return path


def _latin1(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.json"
    path.write_bytes('[{"dialogue": [{"role": "user", "content": "caf\u00e9 IMAGE#1"}]}]'.encode("latin-1"))
    return path


def _deep(tmp_path: Path) -> Path:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    return path


def _other_pooling(tmp_path: Path) -> Path:
    folder = _model_folder(tmp_path, "pool4")
    meta = json.loads((folder / "sparkles_config.json").read_text())
    meta["config"]["pooling"]["num_tokens"] = 4
    (folder / "sparkles_config.json").write_text(json.dumps(meta))
    return folder


def _truncated(tmp_path: Path) -> Path:
    folder = _model_folder(tmp_path, "truncated")
    weights = folder / "trainable.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    return folder


def _random(tmp_path: Path) -> Path:
    folder = _model_folder(tmp_path, "random")
    (folder / "trainable.safetensors").write_bytes(os.urandom(4096))
    return folder


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path / "a-file" / "run"


def _bad_counts(items: list) -> None:
    items[0]["dialogue"][0]["images"].pop()  # two placeholders, one image listed


def _missing_image(items: list) -> None:
    items[0]["dialogue"][0]["images"][0]["image_id"] = "no-such-image"
    items[0]["dialogue"][0]["content"] = items[0]["dialogue"][0]["content"].replace("IMAGE#111", "IMAGE#no-such-image")
    items[0]["dialogue"][2]["content"] = items[0]["dialogue"][2]["content"].replace("IMAGE#111", "IMAGE#no-such-image")


# (name, argv from tmp_path, what the error line must name)
CASES = [
    ("latin-1 data, validate", lambda t: ["data", "validate", str(_latin1(t))], "latin1.json"),
    ("latin-1 data, train", lambda t: TRAIN + ["--init", "minigpt4-lite", "--data", str(_latin1(t)), "--images",
                                               str(IMAGES), "--out", str(t / "run")], "latin1.json"),
    ("JSON nested 100k deep, validate", lambda t: ["data", "validate", str(_deep(t))], "deep.json"),
    ("JSON nested 100k deep, eval", lambda t: ["eval", "--task", "bison", "--model", "minigpt4-lite", "--data",
                                                str(_deep(t)), "--out", str(t / "run")], "deep.json"),
    ("--init with other pooling sizes", lambda t: TRAIN + ["--init", str(_other_pooling(t)), "--out", str(t / "run")],
     "pooling.queries"),
    ("truncated trainable.safetensors", lambda t: ["eval", "--task", "bison", "--model", str(_truncated(t)),
                                                   "--data", str(SAMPLE / "bison.json"), "--out", str(t / "run")],
     "trainable.safetensors"),
    ("random trainable.safetensors", lambda t: ["chat", "--model", str(_random(t)), "--message", "hi"],
     "trainable.safetensors"),
    ("--out under a regular file, train", lambda t: TRAIN + ["--init", "minigpt4-lite", "--out", str(_under_a_file(t))],
     "a-file"),
    ("--out under a regular file, eval", lambda t: ["eval", "--task", "bison", "--model", "minigpt4-lite", "--data",
                                                    str(SAMPLE / "bison.json"), "--out", str(_under_a_file(t))],
     "a-file"),
    ("train --data with bad counts", lambda t: TRAIN + ["--init", "minigpt4-lite", "--data",
                                                        str(_dialogues(t, _bad_counts, "counts.json")), "--images",
                                                        str(IMAGES), "--out", str(t / "run")], "counts.json"),
    ("train --data with a missing image", lambda t: TRAIN + ["--init", "minigpt4-lite", "--data",
                                                             str(_dialogues(t, _missing_image)), "--images",
                                                             str(IMAGES), "--out", str(t / "run")], "no-such-image"),
    ("pretrain --mixture with a bad task", lambda t: ["pretrain", "--part", "lm", "--out", str(t / "pre"),
                                                      "--mixture", "nosuchtask=1"], "--mixture"),
    ("pretrain --init /nonexistent", lambda t: ["pretrain", "--part", "lm", "--out", str(t / "pre"), "--init",
                                                "/nonexistent/lm"], "/nonexistent/lm"),
    ("train --init /nonexistent", lambda t: TRAIN + ["--init", "/nonexistent/model", "--out", str(t / "run")],
     "/nonexistent/model"),
    ("eval --model nosuchmodel", lambda t: ["eval", "--task", "bison", "--model", "nosuchmodel", "--data",
                                            str(SAMPLE / "bison.json"), "--out", str(t / "run")], "nosuchmodel"),
    ("judge-server --port 99999", lambda t: ["judge-server", "--port", "99999"], "--port"),
]


@pytest.mark.parametrize("name, argv, named", CASES, ids=[c[0] for c in CASES])
def test_f16_one_clear_line_never_a_traceback(tmp_path, capsys, name, argv, named):
    try:
        code = main(argv(tmp_path))
    except SystemExit as e:  # argparse refuses a bad flag value the same way
        code = e.code
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code not in (0, None) and "Traceback" not in out + err
    assert len(errors) == 1 and named in errors[0], err


def _offline(*argv: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """A fresh process with the hub offline and an empty cache: nothing can be downloaded."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "sparkles_lite", *argv], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def test_f16_a_hub_model_offline_is_one_line(tmp_path):
    done = _offline("chat", "--model", "smol", "--message", "hi", tmp_path=tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert len(errors) == 1 and "google/siglip-base-patch16-224" in errors[0] and "offline" in errors[0], done.stderr


def test_f16_init_a_folder_of_another_preset_offline_is_one_line(tmp_path):
    folder = _model_folder(tmp_path, "smol-model")
    meta = json.loads((folder / "sparkles_config.json").read_text())
    meta["config"] = preset("smol").to_dict()
    (folder / "sparkles_config.json").write_text(json.dumps(meta))
    done = _offline(*TRAIN, "--init", str(folder), "--out", str(tmp_path / "run"), tmp_path=tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert len(errors) == 1 and "offline" in errors[0], done.stderr


def test_f16_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError, match="nosuchmodel"):
        main(["--debug", "eval", "--task", "bison", "--model", "nosuchmodel", "--data", str(SAMPLE / "bison.json"),
              "--out", str(tmp_path / "run")])


def test_f16_chat_ask_none_is_a_chat_error():
    chat = Chat(model=None)
    with pytest.raises(ChatError, match="text"):
        chat.ask(None)
    with pytest.raises(ChatError, match="text"):
        chat.ask(["What is in IMAGE#1?"])
    assert chat.history == []


def test_f16_the_weights_a_case_breaks_are_real(tmp_path):
    """The broken-folder cases above start from a loadable model: only the one change breaks them."""
    assert load_file(str(NAMED_MODELS["minigpt4-lite"] / "trainable.safetensors"))["pooling.queries"].shape[1] == 9
