"""What `train --data` reads: dialogue files, per-turn files (one, several, or a folder of them), held
out by dialogue, and drawn in batches either length-grouped or the paper's way (one file per batch,
turn-1 files twice as often as turn-2 files).

A dialogue file trains as whole dialogues with every answer supervised (this project's choice);
a per-turn item (`SparklesDialogue{CC,VG}_turn{1,2}_{N}img.json`, the files the paper trains on)
supervises only its last answer, as the paper does; `split_turns` makes per-turn items of dialogues.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from sparkles_lite.data.images import ImageFolder, ImageLoadError, default_image_root
from sparkles_lite.data.io import LAYOUTS, DataFormatError, file_layout, load_items, read_item
from sparkles_lite.data.schema import ASSISTANT, USER, Message
from sparkles_lite.data.turns import dialogue_to_turns

# The paper's per-turn training files: SparklesDialogueCC_turn1_2img.json ...
TURN_FILE = re.compile(r"_turn(\d+)_(\d+)img\.jsonl?$")


@dataclass
class TrainItem:
    """A conversation to learn from, the keys of its images (placeholder order) and where it came from."""

    messages: list[Message]
    image_keys: list
    source: str = ""           # named in the run log: 'FILE: item 3', 'lite example 17'
    supervise: str = "all"     # 'all' answers, or only the 'last' (a per-turn item)
    group: str = ""            # one dialogue's items share it: the held-out split keeps them together
    file: str = ""

    @property
    def turn(self) -> int:
        """Which turn the last answer belongs to (1 = the first question)."""
        return sum(m.role == USER for m in self.messages)


def data_files(paths: list[str | Path]) -> list[Path]:
    """Files to train on: each file given, and in each folder the per-turn files (`*_turn<k>_<n>img.json`),
    which are what the paper trains on; a folder without any is an error naming what was looked for."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if TURN_FILE.search(f.name))
            if not found:
                raise DataFormatError(f"{p}: no per-turn training files (*_turn1_2img.json ...) in this folder; "
                                      "give the files to train on instead")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise DataFormatError(f"{p}: no such file or folder")
    return files


def file_items(paths: list[str | Path], images: str | Path | None = None, split_turns: bool = False
               ) -> tuple[list[TrainItem], Callable[[tuple[str, str]], Image.Image]]:
    """Training items from dialogue and per-turn files, and the image loader their keys go to.

    An image key is (image folder, image id): each file's images come from `images`, or by default from
    `images/` beside the file's `annotations/` folder (the official layout), so CC and VG files can
    train together."""
    items: list[TrainItem] = []
    folders: dict[str, ImageFolder] = {}
    for path in data_files(paths):
        raw_items = load_items(path)
        if not raw_items:
            continue
        layout = file_layout(path, raw_items)
        if not LAYOUTS[layout].trains:
            trainable = " or ".join(LAYOUTS[n].description for n in LAYOUTS if LAYOUTS[n].trains)
            raise DataFormatError(f"{path}: a {LAYOUTS[layout].description} file; train --data takes {trainable}")
        root = Path(images) if images is not None else default_image_root(path)
        try:
            folders.setdefault(str(root), ImageFolder(root))
        except ImageLoadError as e:
            raise DataFormatError(f"{path}: {e} (pass --images DIR)") from e
        unit = LAYOUTS[layout].unit
        for i, raw in enumerate(raw_items):
            where = f"{path}: {unit} {i}"
            obj = read_item(layout, raw, where)
            if layout == "turns":
                conversations = [(obj.history + [Message(ASSISTANT, obj.answer)], "last", where)]
            elif split_turns:
                conversations = [(t.history + [Message(ASSISTANT, t.answer)], "last", f"{where}, turn {k + 1}")
                                 for k, t in enumerate(dialogue_to_turns(obj))]
            else:
                conversations = [(obj.messages, "all", where)]
            for messages, supervise, source in conversations:
                keys = [(str(root), r.image_id) for m in messages for r in m.images]
                items.append(TrainItem(messages, keys, source, supervise, group=messages[0].content, file=str(path)))
    return items, lambda key: folders[key[0]].load(key[1])


def hold_out(items: list[TrainItem], n_val: int) -> tuple[list[TrainItem], list[TrainItem]]:
    """(train, held out): whole dialogues (items sharing a first question) held out until `n_val`
    items, at most a tenth of the data, at least one item when there are two; chosen by a hash of the
    first question, so the split is the same on every run and does not depend on file order."""
    groups: dict[str, list[TrainItem]] = {}
    for it in items:
        groups.setdefault(it.group, []).append(it)
    target = min(n_val, max(1, len(items) // 10)) if len(items) >= 2 else 0
    order = sorted(groups, key=lambda g: hashlib.sha1(g.encode()).hexdigest())
    held: set[str] = set()
    n = 0
    for g in order[:-1]:  # at least one dialogue stays for training
        if n >= target:
            break
        held.add(g)
        n += len(groups[g])
    return [it for it in items if it.group not in held], [it for it in items if it.group in held]


def parse_turn_ratio(text: str) -> dict[int, float]:
    """'2:1' -> {1: 2.0, 2: 1.0}: the weight of turn-1 and turn-2 files (the paper's sample_ratio)."""
    try:
        weights = [float(x) for x in text.split(":")]
    except ValueError:
        weights = []
    if len(weights) < 2 or any(w < 0 for w in weights) or not any(weights):
        raise ValueError(f"--turn-ratio {text!r}: expected weights per turn such as 2:1 (turn 1 : turn 2)")
    return {k + 1: w for k, w in enumerate(weights)}


def file_weighted_batches(items: list[TrainItem], ratio: dict[int, float], batch_size: int,
                          rng: random.Random) -> Iterator[list[int]]:
    """Endless batches the paper's way: each batch comes from one file (one turn of it), chosen with
    probability proportional to its turn's weight whatever its size; a file's items come shuffled and
    are reshuffled once all were used."""
    pools: dict[tuple[str, int], list[int]] = {}
    for i, it in enumerate(items):
        if it.supervise != "last":
            raise ValueError(f"{it.source}: --turn-ratio draws per-turn items; a whole dialogue has no single "
                             "turn (give per-turn files, or --split-turns)")
        pools.setdefault((it.file, it.turn), []).append(i)
    keys = [k for k in pools if ratio.get(k[1], 0) > 0]
    if not keys:
        raise ValueError(f"--turn-ratio gives no weight to the turns in the data ({sorted({k[1] for k in pools})})")
    weights = [ratio[k[1]] for k in keys]
    queues: dict[tuple[str, int], list[int]] = {k: [] for k in keys}
    while True:
        key = rng.choices(keys, weights)[0]
        batch: list[int] = []
        while len(batch) < batch_size:
            if not queues[key]:
                queues[key] = rng.sample(pools[key], len(pools[key]))
            batch.append(queues[key].pop())
            if len(batch) == len(pools[key]):
                break  # a file smaller than a batch gives a smaller batch, never the same item twice
        yield batch
