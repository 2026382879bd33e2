"""Files laid out exactly like the official Sparkles download validate, train and evaluate through the
CLI with no `--images` flag; dialogues longer than max_length train, and the log says what they lost.

The tree is built here the way the official code lays it out and formats it (paths from
`dataset/config_path.py`, per-turn items as `format_SparklesDialogue` writes them, the evaluation
files as `evaluate.py` reads them), written by hand rather than by this package's writers, with lite
scenes as the images so that the offline judge can score SparklesEval:

    ROOT/data/SparklesDialogueCC/annotations/SparklesDialogueCC.json, SparklesDialogueCC_turn{1,2}_{N}img.json
    ROOT/data/SparklesDialogueCC/images/<id>.jpg                       CC ids are strings
    ROOT/data/SparklesDialogueVG/...                                   VG ids are integers
    ROOT/evaluation/SparklesEval/annotations/sparkles_evaluation_sparkleseval_annotations.json, images/<id>.jpg
    ROOT/evaluation/BISON/annotations/sparkles_evaluation_bison_annotations.json, images/COCO_val2014_<id>.jpg
    ROOT/evaluation/NLVR2/annotations/sparkles_evaluation_nlvr2_annotations.json, images/<pair>-img{0,1}.png
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from sparkles_lite.cli import main
from sparkles_lite.data.schema import IMAGE_BLOCK
from sparkles_lite.lite import world
from sparkles_lite.lite.tasks import LiteGenerator


def _dialogue_json(ex, as_id) -> dict:
    """A lite dialogue in the official dialogue layout, its ids turned into `as_id(id)` (str or int)."""
    def content(text: str) -> str:
        return re.sub(r"IMAGE#(\d+)", lambda m: f"IMAGE#{as_id(m.group(1))}", text)

    messages = []
    for m in ex.messages:
        msg = {"role": m.role, "content": content(m.content)}
        if m.role == "user":
            msg["images"] = [{"image_id": as_id(r.image_id), "caption": world.describe(ex.scenes[r.image_id])}
                             for r in m.images]
        messages.append(msg)
    return {"dialogue": messages}


def _turn_items(d: dict) -> tuple[dict, dict]:
    """The two per-turn items of a dialogue, formatted as the official `format_SparklesDialogue` does."""
    m = d["dialogue"]
    turn1 = {"uniform_question": m[0]["content"], "instruction": f"###Human: {m[0]['content']}###Assistant: ",
             "answer": m[1]["content"], "tgt_imgs": m[0]["images"]}
    turn2 = {"uniform_question": m[2]["content"],
             "instruction": f"###Human: {m[0]['content']}###Assistant: {m[1]['content']}###Human: "
                            f"{m[2]['content']}###Assistant: ",
             "answer": m[3]["content"], "tgt_imgs": m[0]["images"] + m[2]["images"]}
    return turn1, turn2


def _save_images(ex, folder: Path, as_id, ext=".jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image_id, scene in ex.scenes.items():
        world.render(scene, 32).save(folder / f"{as_id(image_id)}{ext}")


def _write(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def build_official_tree(root: Path) -> dict[str, Path]:
    counter = itertools.count(1000)
    files = {}
    for subset, as_id, seed in (("CC", str, 1), ("VG", lambda i: 2370000 + int(i), 2)):
        gen = LiteGenerator(seed, id_source=lambda: str(next(counter)))
        base = root / "data" / f"SparklesDialogue{subset}"
        dialogues, per_turn = [], {}
        for _ in range(8):
            ex = gen.dialogue()
            d = _dialogue_json(ex, as_id)
            dialogues.append({**d, "raw": [{"prompt": "...", "response": "..."}]})
            _save_images(ex, base / "images", as_id)
            for k, item in enumerate(_turn_items(d), start=1):
                per_turn.setdefault(f"SparklesDialogue{subset}_turn{k}_{len(item['tgt_imgs'])}img.json", []).append(item)
        files[f"{subset} dialogues"] = _write(base / "annotations" / f"SparklesDialogue{subset}.json", dialogues)
        for name, items in per_turn.items():
            files[name] = _write(base / "annotations" / name, items)
    ev = root / "evaluation"
    gen = LiteGenerator(3, id_source=lambda: str(next(counter)))
    evals = []
    for k in range(3):
        ex = gen.dialogue()
        evals.append({**_dialogue_json(ex, str), "evaluation_id": k,
                      "gpt-4": {"A1_C123_scores": [9.0, 9.0, 9.0, 9.0], "A2_C123_scores": [9.0, 9.0, 9.0, 9.0]}})
        _save_images(ex, ev / "SparklesEval" / "images", str)
    files["sparkles-eval"] = _write(ev / "SparklesEval" / "annotations" / "sparkles_evaluation_sparkleseval_annotations.json",
                                    evals)
    bison, nlvr2 = [], []
    for k in range(3):
        ex = gen.bison(gold=k % 2)
        ids = [391895 + 2 * k, 391896 + 2 * k]  # COCO ids: integers, files named by BISON's image_filename
        cands = [{"image_id": i, "image_filename": f"COCO_val2014_{i:012d}.jpg"} for i in ids]
        bison.append({"evaluation_id": k, "caption": ex.meta["caption"], "true_image_id": ids[k % 2],
                      "image_candidates": cands})
        for c, scene in zip(cands, ex.scenes.values()):
            (ev / "BISON" / "images").mkdir(parents=True, exist_ok=True)
            world.render(scene, 32).save(ev / "BISON" / "images" / c["image_filename"])
        ex = gen.nlvr2()
        identifier = f"dev-{850 + k}-0-{k}"
        nlvr2.append({"evaluation_id": k, "identifier": identifier, "sentence": ex.meta["statement"],
                      "label": "True" if ex.checks[0]["choice"] == "TRUE" else "False"})
        for side, scene in enumerate(ex.scenes.values()):
            (ev / "NLVR2" / "images").mkdir(parents=True, exist_ok=True)
            world.render(scene, 32).save(ev / "NLVR2" / "images" / f"{identifier[:-2]}-img{side}.png")
    files["bison"] = _write(ev / "BISON" / "annotations" / "sparkles_evaluation_bison_annotations.json", bison)
    files["nlvr2"] = _write(ev / "NLVR2" / "annotations" / "sparkles_evaluation_nlvr2_annotations.json", nlvr2)
    return files


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("Sparkles")
    return root, build_official_tree(root)


def test_the_tree_is_the_official_one(tree):
    root, files = tree
    vg_turn2 = json.loads(next((root / "data" / "SparklesDialogueVG" / "annotations").glob("*_turn2_*img.json")).read_text())
    assert all(isinstance(im["image_id"], int) for item in vg_turn2 for im in item["tgt_imgs"])
    cc_turn1 = json.loads(next((root / "data" / "SparklesDialogueCC" / "annotations").glob("*_turn1_*img.json")).read_text())
    assert all(isinstance(im["image_id"], str) for item in cc_turn1 for im in item["tgt_imgs"])
    assert {p.name for p in (root / "data" / "SparklesDialogueCC" / "annotations").iterdir()} >= {
        "SparklesDialogueCC.json"} and any("_turn2_" in name for name in files)


def test_every_file_validates_without_images_flag(tree, capsys):
    _, files = tree
    for name, path in files.items():
        assert main(["data", "validate", str(path)]) == 0, (name, capsys.readouterr())
        captured = capsys.readouterr()
        assert captured.out.startswith("OK: ") and "checking images in" in captured.err, (name, captured)


def test_per_turn_folders_train_two_steps_with_the_papers_sampling(tree, tmp_path, capsys):
    root, _ = tree
    out = tmp_path / "run"
    args = ["train", "--stage", "2", "--init", "sparkleschat-lite", "--out", str(out), "--max-steps", "2",
            "--batch-size", "2", "--eval-n", "0", "--quiet", "--no-resume", "--turn-ratio", "2:1", "--n-val", "2",
            "--data", str(root / "data" / "SparklesDialogueCC" / "annotations"),
            str(root / "data" / "SparklesDialogueVG" / "annotations")]
    assert main(args) == 0, capsys.readouterr().err
    metrics = json.loads((out / "train_metrics.json").read_text())
    n_turn_files = len(list(root.glob("data/*/annotations/*_turn*_*img.json")))
    assert metrics["steps"] == 2 and len(metrics["data"]["files"]) == 2 and metrics["data"]["turn_ratio"] == "2:1"
    assert metrics["n_train"] + metrics["data"]["n_heldout"] == 2 * 2 * 8 and n_turn_files >= 4
    assert metrics["before"]["heldout_loss"] is not None


def test_a_dialogue_file_trains_and_evaluation_sets_run_without_images_flag(tree, tmp_path, capsys):
    root, files = tree
    assert main(["train", "--stage", "2", "--init", "sparkleschat-lite", "--out", str(tmp_path / "run"),
                 "--max-steps", "2", "--batch-size", "2", "--eval-n", "0", "--quiet", "--no-resume",
                 "--data", str(files["VG dialogues"])]) == 0, capsys.readouterr().err
    for task, extra in (("bison", []), ("nlvr2", ["--protocol", "paper", "--max-attempts", "2"]),
                        ("sparkles-eval", []), ("sparkles-eval", ["--judge-protocol", "paper"])):
        out = tmp_path / f"{task}{len(extra)}"
        args = ["eval", "--model", "sparkleschat-lite", "--task", task, "--data", str(files[task]), "--limit", "2",
                "--out", str(out), *extra]
        assert main(args) == 0, (task, capsys.readouterr().err)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["n"] == 2 and summary["images"] == str(files[task].parent.parent / "images")
        if task == "sparkles-eval":
            assert summary["n_judged"] == 2 and summary["judge_protocol"] == (extra[1] if extra else "reference")
    records = [json.loads(x) for x in (tmp_path / "bison0" / "predictions.jsonl").read_text().splitlines()]
    assert records[0]["image_ids"] == ["391895", "391896"] and records[1]["gold"] == "IMAGE#2"
    nlvr2 = [json.loads(x) for x in (tmp_path / "nlvr24" / "predictions.jsonl").read_text().splitlines()]
    assert nlvr2[1]["image_ids"] == ["dev-851-0-img0", "dev-851-0-img1"] and nlvr2[0]["protocol"] == "paper"


def _long_dialogue(image_ids: list[str], words: int) -> dict:
    filler = " ".join(["very"] * words)
    return {"dialogue": [
        {"role": "user", "content": f"Look at IMAGE#{image_ids[0]}{IMAGE_BLOCK} and IMAGE#{image_ids[1]}{IMAGE_BLOCK}, "
                                    f"a {filler} long question?",
         "images": [{"image_id": i, "caption": ""} for i in image_ids[:2]]},
        {"role": "assistant", "content": "A long first answer."},
        {"role": "user", "content": f"And IMAGE#{image_ids[2]}{IMAGE_BLOCK}?",
         "images": [{"image_id": image_ids[2], "caption": ""}]},
        {"role": "assistant", "content": "It has a red circle."}]}


def test_dialogues_longer_than_max_length_train_and_the_log_names_what_they_lost(tmp_path, capsys):
    """Before: 'the batch has 32 image positions but 3 images x 32 tokens' (every image passed while turn
    1 was dropped), and one item too long even alone ended the run."""
    images = tmp_path / "images"
    images.mkdir()
    for k in range(6):
        world.render(world.random_scene(__import__("random").Random(k)), 32).save(images / f"{k}.jpg")
    fits = {"dialogue": [{"role": "user", "content": f"What is in IMAGE#5{IMAGE_BLOCK}?",
                          "images": [{"image_id": "5", "caption": ""}]},
                         {"role": "assistant", "content": "A circle."}]}
    too_long_alone = _long_dialogue(["3", "4", "5"], 10)
    too_long_alone["dialogue"][2]["content"] = f"And IMAGE#5{IMAGE_BLOCK}, a " + " ".join(["very"] * 400) + " question?"
    data = _write(tmp_path / "long.json", [_long_dialogue(["0", "1", "2"], 300), fits, fits, too_long_alone])
    out = tmp_path / "run"
    assert main(["train", "--stage", "2", "--init", "sparkleschat-lite", "--out", str(out), "--max-steps", "2",
                 "--batch-size", "4", "--eval-n", "0", "--quiet", "--no-resume", "--n-val", "0",
                 "--data", str(data), "--images", str(images)]) == 0
    log = capsys.readouterr().out
    assert f"{data}: dialogue 0: dropped turn(s) 1 (2 image(s) with them)" in log
    assert "training data: 1 of 4 item(s) longer than max_length=320, skipped: too long even alone" in log
    assert f"{data}: dialogue 3: the last turn alone needs" in log
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["n_train"] == 3
    assert (metrics["data"]["n_truncated"], metrics["data"]["n_skipped"]) == (1, 1)
    assert metrics["length_changes"]["truncated"] == [{"item": f"{data}: dialogue 0", "dropped_turns": [1],
                                                       "dropped_images": 2}]
