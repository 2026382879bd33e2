"""A run folder bound to what made it, so it never mixes the work of two runs.

Evaluation and training resume by default: a rerun into the same `--out` skips what is already
there. That is only right when the rerun is the same run. So the first run writes what makes it
(its identity: model, task, data file and its sha256, protocol, judge; or stage, init, data and the
shape of what trains) into a record, `run.json`; a later run compares its own identity with the record
and, when any part differs, stops with exit status 2 naming each difference, before anything is
read or written. `--overwrite` starts the folder afresh: what the run wrote there is removed first.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from sparkles_lite.data.io import write_json_atomic

RUN_FILE = "run.json"


class FolderOfAnotherRun(ValueError):
    """`--out` holds the work of a run that differs from this one; the message names the differences."""


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensors_sha256(state: dict[str, torch.Tensor]) -> str:
    """sha256 of named tensors (names, dtypes, shapes and values), e.g. a model's trainable weights."""
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}:".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def file_identity(path: str | Path, folder: str | Path) -> dict[str, str]:
    """A data file as a run records it: its path (relative to the run folder when inside it, so the
    folder can move) and the sha256 of its content."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    shown = path.relative_to(folder) if path.is_relative_to(folder) else path
    return {"path": str(shown), "sha256": file_sha256(path)}


def model_identity(model: Any, name: str | None = None) -> dict[str, str | None]:
    """How a run folder records a model: its name (a saved directory as an absolute path) and the
    sha256 of its trainable weights, so a model retrained in place is another model. `model`: a shipped
    name, a preset, a directory, or a loaded model (then `name` names it)."""
    from sparkles_lite.assets import NAMED_MODELS, resolve_model
    from sparkles_lite.model.sparkles_chat import WEIGHTS_FILE

    if not isinstance(model, (str, Path)):
        state = model.trainable_state_dict() if hasattr(model, "trainable_state_dict") else None
        return {"name": name or type(model).__name__, "weights_sha256": tensors_sha256(state) if state else None}
    try:
        folder = resolve_model(str(model))
    except FileNotFoundError:  # not a model folder: a name the caller knows (text-oracle), or a typo it names
        folder = None
    label = name or (str(model) if folder is None or str(model) in NAMED_MODELS else str(folder.resolve()))
    weights = folder / WEIGHTS_FILE if folder is not None else None
    return {"name": label, "weights_sha256": file_sha256(weights) if weights and weights.exists() else None}


def differences(recorded: Any, wanted: Any, where: str = "") -> list[str]:
    """Each place where two identities differ, as 'key: was X, now Y' (long hashes shortened)."""
    if isinstance(recorded, dict) and isinstance(wanted, dict):
        out = []
        for key in dict.fromkeys([*recorded, *wanted]):
            out += differences(recorded.get(key), wanted.get(key), f"{where}.{key}" if where else str(key))
        return out
    if recorded == wanted:
        return []
    return [f"{where or 'identity'}: was {_short(recorded)}, now {_short(wanted)}"]


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text[:15] + '..."' if isinstance(value, str) and len(value) == 64 else text


def bind_folder(folder: str | Path, identity: dict, *, owned: Iterable[str], overwrite: bool = False,
                record: str = RUN_FILE) -> None:
    """Make `folder` the folder of the run `identity` describes, or refuse (FolderOfAnotherRun).

    `owned`: what the run writes there (file or folder names): removed first with `overwrite`; found
    without a record (a folder from before records), the folder is refused too, since nothing says
    which run made them."""
    folder = Path(folder)
    path = folder / record
    owned = [record, *owned]
    if overwrite:
        for name in owned:
            target = folder / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    elif path.exists():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise FolderOfAnotherRun(f"{path} is not a run record ({e}): use another --out, or --overwrite") from None
        found = differences(recorded, identity)
        if found:
            raise FolderOfAnotherRun(f"{folder} holds another run ({'; '.join(found)}): use another --out, "
                                     "or --overwrite to start it afresh")
        return
    else:
        found = [name for name in owned if (folder / name).exists()]
        if found:
            raise FolderOfAnotherRun(f"{folder} holds {', '.join(found)} but no {record} saying which run made "
                                     "them: use another --out, or --overwrite to start it afresh")
    write_json_atomic(path, identity)
