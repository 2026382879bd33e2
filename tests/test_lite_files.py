"""write_lite_dataset: the lite world in the real file layouts, valid, deterministic, held out."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sparkles_lite.assets import sample_folder
from sparkles_lite.cli import main
from sparkles_lite.data.io import load_bison, load_dialogues, load_nlvr2
from sparkles_lite.data.schema import ASSISTANT
from sparkles_lite.lite import world
from sparkles_lite.lite.eval import EVAL_SEED
from sparkles_lite.lite.files import EVAL_FILE, load_scenes, write_lite_dataset
from sparkles_lite.lite.tasks import score_answer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = sample_folder("lite")
FILES = ("sparkles_dialogue.json", "captions.json", "sparkles_eval.json", "bison.json", "nlvr2.json")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("lite")
    paths = write_lite_dataset(out, n_dialogues=5, seed=3, n_eval=6, n_captions=4)
    return out, paths


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_file_validates_with_images(small, capsys):
    out, _ = small
    for name in FILES:
        assert main(["data", "validate", str(out / name), "--images", str(out / "images")]) == 0, name
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["OK: 5 dialogues, " + lines[0].split(", ")[1], "OK: 4 dialogues, 4 images",
                     lines[2], "OK: 6 items, 12 images", "OK: 6 items, 12 images"]


def test_ids_unique_and_scenes_match_pixels(small):
    out, _ = small
    scenes = load_scenes(out)
    files = sorted(p.stem for p in (out / "images").glob("*.png"))
    assert sorted(scenes) == files
    referenced = [r.image_id for name in FILES[:3] for d in load_dialogues(out / name) for r in d.images]
    referenced += [i for x in load_bison(out / "bison.json") for i in x.image_ids]
    referenced += [i for x in load_nlvr2(out / "nlvr2.json") for i in x.image_ids]
    assert len(referenced) == len(set(referenced)) == len(files)  # every image used exactly once
    for image_id in files[:5] + ["lite-0-0-img1"]:
        drawn = np.asarray(world.render(scenes[image_id]))
        assert (np.asarray(Image.open(out / "images" / f"{image_id}.png").convert("RGB")) == drawn).all()


def test_references_and_labels_are_true(small):
    out, _ = small
    scenes = load_scenes(out)
    for d in load_dialogues(out / EVAL_FILE):
        answers = [m.content for m in d.messages if m.role == ASSISTANT]
        assert len(answers) == 2 and len(d.meta["checks"]) == 2
        assert all(score_answer(c, a, scenes) for c, a in zip(d.meta["checks"], answers))
        assert all(r.caption == world.describe(scenes[r.image_id]) for r in d.images)
    for x in load_bison(out / "bison.json"):
        assert world.parse_description(x.caption) == scenes[x.true_image_id].counts()
        other = [i for i in x.image_ids if i != x.true_image_id][0]
        assert scenes[other].counts() != scenes[x.true_image_id].counts()
        assert [f for f in x.image_filenames] == [f"{i}.png" for i in x.image_ids]
    items = load_nlvr2(out / "nlvr2.json")
    assert [x.image_ids for x in items[:1]] == [["lite-0-0-img0", "lite-0-0-img1"]]
    captions = load_dialogues(out / "captions.json")
    assert captions[0].messages[0].content.endswith("<Img><ImageHere></Img> Describe this image.")


def test_deterministic_and_eval_sets_held_out(small, tmp_path):
    out, _ = small
    write_lite_dataset(tmp_path / "again", n_dialogues=5, seed=3, n_eval=6, n_captions=4)
    assert _all_bytes(tmp_path / "again") == _all_bytes(out)
    # another training seed: the same evaluation sets, other training dialogues
    write_lite_dataset(tmp_path / "seed4", n_dialogues=5, seed=4, n_eval=6, n_captions=4)
    for name in ("sparkles_eval.json", "bison.json", "nlvr2.json"):
        assert (tmp_path / "seed4" / name).read_bytes() == (out / name).read_bytes()
    assert (tmp_path / "seed4" / "sparkles_dialogue.json").read_bytes() != (out / "sparkles_dialogue.json").read_bytes()
    # a longer eval set extends the shorter one (SparklesEval and NLVR2 items unchanged)
    write_lite_dataset(tmp_path / "longer", n_dialogues=0, seed=3, n_eval=8)
    longer = json.loads((tmp_path / "longer" / EVAL_FILE).read_text())
    assert longer[:6] == json.loads((out / EVAL_FILE).read_text())
    assert json.loads((tmp_path / "longer" / "nlvr2.json").read_text())[:6] == json.loads((out / "nlvr2.json").read_text())
    with pytest.raises(ValueError, match="reserved"):
        write_lite_dataset(tmp_path / "bad", n_dialogues=1, seed=EVAL_SEED)


def test_shipped_sample_is_small_valid_and_reproducible(tmp_path, capsys):
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 1_000_000
    for name in FILES:
        assert main(["data", "validate", str(SAMPLE / name), "--images", str(SAMPLE / "images")]) == 0, name
    capsys.readouterr()
    write_lite_dataset(tmp_path / "lite", n_dialogues=40, seed=0, n_eval=20)  # the README's command
    for name in (*FILES, "scenes.json"):
        assert (tmp_path / "lite" / name).read_text() == (SAMPLE / name).read_text(), name
    assert sorted(p.name for p in (tmp_path / "lite" / "images").iterdir()) == \
        sorted(p.name for p in (SAMPLE / "images").iterdir())
