"""The lite world written to disk in the real Sparkles file layouts (`python -m sparkles_lite data generate`).

`write_lite_dataset(out_dir, n_dialogues, seed)` writes::

    out_dir/
      images/<id>.png          every image, rendered from its scene (64 x 64 by default)
      sparkles_dialogue.json   SparklesDialogue-lite: 2-turn training dialogues over 2-4 images
      captions.json            stage-1 captions: one-turn dialogues
                               "IMAGE#<id><Img><ImageHere></Img> Describe this image." -> "<caption>."
      sparkles_eval.json       SparklesEval-lite: n_eval 2-turn dialogues with `evaluation_id` and
                               reference answers (the assistant messages)
      bison.json               BISON-lite: n_eval items {evaluation_id, caption, true_image_id,
                               image_candidates: [{image_id, image_filename}]}
      nlvr2.json               NLVR2-lite: n_eval items {evaluation_id, identifier, sentence, label};
                               identifier `lite-<k>-0-0` -> images `lite-<k>-0-img0.png`, `-img1.png`
      scenes.json              {image id: {"description", "objects": [{size, colour, shape, position}],
                               "seed"}}: the ground truth behind every image (`load_scenes`)

All dialogue-layout files (training, captions, eval) are read by `sparkles_lite.data.io`, and every
file passes `python -m sparkles_lite data validate FILE --images out_dir/images`.

Ids: numeric image ids come from one serial counter over the whole dataset (the evaluation sets
first, then training), so every id names one image; NLVR2 images are named by their identifier as
in the real NLVR2. Seeds: training data comes from `seed`; the evaluation sets come from the held-out
seeds of `sparkles_lite.lite.eval` (`eval_seed`), which no training run uses, so they are the same
held-out sets whatever `seed` is (a longer `n_eval` extends them: the first items stay the same). The
output is deterministic: the same arguments give byte-identical files.

`held_out_sets` writes the evaluation sets alone, once per folder: what `python -m sparkles_lite eval`
runs on when it is given no `--data`.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from sparkles_lite.data.io import (BisonItem, Nlvr2Item, load_json, save_bison, save_dialogues, save_nlvr2,
                                   write_json_atomic)
from sparkles_lite.data.schema import ASSISTANT, IMAGE_BLOCK, USER, Dialogue, ImageRef, Message
from sparkles_lite.lite import world
from sparkles_lite.lite.eval import EVAL_SEED, EVAL_TASKS, eval_seed
from sparkles_lite.lite.tasks import CAPTION_PROMPT, LiteExample, LiteGenerator, balanced_examples

IMAGES_DIR = "images"
DIALOGUE_FILE = "sparkles_dialogue.json"
CAPTIONS_FILE = "captions.json"
EVAL_FILE = "sparkles_eval.json"
BISON_FILE = "bison.json"
NLVR2_FILE = "nlvr2.json"
SCENES_FILE = "scenes.json"
NLVR2_SPLIT = "lite"
# The held-out file of each evaluation task of `python -m sparkles_lite eval`.
HELD_OUT_FILES = {"bison": BISON_FILE, "nlvr2": NLVR2_FILE, "sparkles-eval": EVAL_FILE}
N_HELD_OUT = 150  # items per held-out set: the paper evaluates 150 items per benchmark


def write_lite_dataset(out_dir: str | Path, n_dialogues: int = 1000, seed: int = 0, n_eval: int = 150,
                       image_size: int = 64, n_captions: int | None = None) -> dict[str, Path]:
    """Write the lite dataset (see the module docstring); returns {file kind: path}.

    `n_captions` defaults to `n_dialogues`. `n_dialogues=0, n_captions=0` writes only the
    evaluation sets (what `python -m sparkles_lite eval` does when given no `--data`).
    """
    if min(n_dialogues, n_eval) < 0 or (n_captions is not None and n_captions < 0):
        raise ValueError("counts must be >= 0")
    if EVAL_SEED <= seed < EVAL_SEED + len(EVAL_TASKS):
        raise ValueError(f"seed {seed} is reserved for the held-out evaluation sets")
    n_captions = n_dialogues if n_captions is None else n_captions
    out = Path(out_dir)
    image_dir = out / IMAGES_DIR
    image_dir.mkdir(parents=True, exist_ok=True)
    counter = itertools.count(1)

    def next_id() -> str:
        return str(next(counter))

    scenes: dict[str, world.Scene] = {}

    def keep(image_id: str, scene: world.Scene) -> None:
        if image_id in scenes:
            raise RuntimeError(f"image id {image_id} generated twice")
        scenes[image_id] = scene
        world.render(scene, image_size).save(image_dir / f"{image_id}.png", format="PNG")

    # -- evaluation sets first: their ids do not depend on how much training data is written
    gen = LiteGenerator(eval_seed("dialogue"), id_source=next_id)
    eval_dialogues = []
    for k in range(n_eval):
        ex = gen.dialogue()
        for image_id in ex.image_ids:
            keep(image_id, ex.scenes[image_id])
        eval_dialogues.append(Dialogue(ex.messages, meta={"evaluation_id": k, "task": ex.task,
                                                          "checks": ex.checks}))

    nlvr2_items = []
    for k, ex in enumerate(balanced_examples(LiteGenerator(eval_seed("nlvr2")), "nlvr2", n_eval)):
        identifier = f"{NLVR2_SPLIT}-{k}-0-0"
        item = Nlvr2Item(identifier, ex.meta["statement"], ex.checks[0]["choice"] == "TRUE", evaluation_id=k)
        for image_id, slot in zip(item.image_ids, ("1", "2")):
            keep(image_id, ex.scenes[slot])
        nlvr2_items.append(item)

    bison_items = []
    for k, ex in enumerate(balanced_examples(LiteGenerator(eval_seed("bison")), "bison", n_eval)):
        ids = [next_id(), next_id()]
        for image_id, slot in zip(ids, ("1", "2")):
            keep(image_id, ex.scenes[slot])
        true_id = ids[0] if ex.checks[0]["choice"] == "IMAGE#1" else ids[1]
        bison_items.append(BisonItem(ex.meta["caption"], true_id, ids, [f"{i}.png" for i in ids], evaluation_id=k))

    # -- training data: dialogues, then captions, from the training seed
    gen = LiteGenerator(seed, id_source=next_id)
    train = []
    for k in range(n_dialogues):
        ex = gen.dialogue()
        for image_id in ex.image_ids:
            keep(image_id, ex.scenes[image_id])
        train.append(Dialogue(ex.messages, meta={"id": k, "task": ex.task}))
    captions = []
    for k in range(n_captions):
        ex = gen.caption()
        (image_id,) = ex.image_ids
        keep(image_id, ex.scenes[image_id])
        captions.append(caption_dialogue(ex, k))

    paths = {"images": image_dir, "dialogues": out / DIALOGUE_FILE, "captions": out / CAPTIONS_FILE,
             "sparkles_eval": out / EVAL_FILE, "bison": out / BISON_FILE, "nlvr2": out / NLVR2_FILE,
             "scenes": out / SCENES_FILE}
    save_dialogues(paths["dialogues"], train)
    save_dialogues(paths["captions"], captions)
    save_dialogues(paths["sparkles_eval"], eval_dialogues)
    save_bison(paths["bison"], bison_items)
    save_nlvr2(paths["nlvr2"], nlvr2_items)
    write_json_atomic(paths["scenes"], {i: scene_to_dict(s) for i, s in scenes.items()}, indent=None)
    return paths


def caption_dialogue(ex: LiteExample, index: int) -> Dialogue:
    """A stage-1 caption example as a one-turn dialogue whose user message names the image."""
    (image_id,) = ex.image_ids
    ref = ex.messages[0].images[0]
    prompt = f"IMAGE#{image_id}{IMAGE_BLOCK}{CAPTION_PROMPT.removeprefix(IMAGE_BLOCK)}"
    return Dialogue([Message(USER, prompt, [ImageRef(image_id, ref.caption)]),
                     Message(ASSISTANT, ex.messages[1].content)], meta={"id": index, "task": "caption"})


def scene_to_dict(scene: world.Scene) -> dict:
    return {"description": world.describe(scene),
            "objects": [{"size": o.thing.size, "colour": o.thing.colour, "shape": o.thing.shape,
                         "position": o.position} for o in scene.objects],
            "seed": scene.seed}


def scene_from_dict(d: dict) -> world.Scene:
    objects = tuple(world.SceneObject(world.Thing(o["size"], o["colour"], o["shape"]), o["position"])
                    for o in d["objects"])
    return world.Scene(objects, seed=int(d.get("seed", 0)))


def load_scenes(path: str | Path) -> dict[str, world.Scene]:
    """scenes.json (or the folder holding it) -> {image id: Scene}; `world.render` redraws each image."""
    path = Path(path)
    if path.is_dir():
        path = path / SCENES_FILE
    return {str(k): scene_from_dict(v) for k, v in load_json(path).items()}


def held_out_sets(out_dir: str | Path, n_eval: int = N_HELD_OUT) -> Path:
    """The held-out evaluation sets (no training data) in out_dir; reused when already written."""
    out_dir = Path(out_dir)
    marker = out_dir / ".lite_eval_sets.json"
    want = {"n_eval": n_eval}
    if not (marker.exists() and json.loads(marker.read_text()) == want):
        write_lite_dataset(out_dir, n_dialogues=0, n_captions=0, seed=0, n_eval=n_eval)
        marker.write_text(json.dumps(want))
    return out_dir


def eval_data(task: str, out: Path, data: str | Path | None, images: str | Path | None,
              n_eval: int = N_HELD_OUT) -> tuple[Path, Path]:
    """(data file, image folder) of an evaluation run: the given ones, or the held-out lite sets
    written into out/data.

    The lite sets are always written whole (150 items each, more if asked): image ids run serially
    across the sets, so a shorter write would give later sets other ids and a resumed run's log
    would point at the wrong images. Without `images`: `default_image_root` (the official layout's
    `images/` beside `annotations/`, else `images/` beside the file)."""
    from sparkles_lite.data.images import default_image_root

    if data is None:
        root = held_out_sets(Path(out) / "data", n_eval)
        return root / HELD_OUT_FILES[task], Path(images) if images else root / IMAGES_DIR
    data = Path(data)
    return data, Path(images) if images else default_image_root(data)
