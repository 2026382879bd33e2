"""Where the shipped lite weights and samples live, and how model names resolve to directories."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

ASSETS = Path(__file__).parent / "assets" / "lite"
LITE_VISION = ASSETS / "vision"
LITE_LM = ASSETS / "lm"
# The trained models, addressable by name wherever a model is expected.
NAMED_MODELS = {
    "minigpt4-lite": ASSETS / "minigpt4-lite",       # stage 1 only (single-image captions)
    "control-lite": ASSETS / "control-lite",         # stage 1 + matched extra caption steps
    "sparkleschat-lite": ASSETS / "sparkleschat-lite",  # stage 1 + stage 2 (multi-image dialogues)
}



def sample_folder(name: str) -> Path:
    """A folder of samples shipped inside the package ("lite": the lite world in the Sparkles file
    layouts; "photos": real photographs and dialogues about them), so a plain `pip install` has them."""
    folder = Path(str(files("sparkles_lite") / "samples" / name))
    if not folder.is_dir():
        raise FileNotFoundError(f"no shipped samples {name!r} at {folder}; reinstall the package")
    return folder


# Not a saved model: `eval --model text-oracle` is the lite LM reading the true scene words.
TEXT_ORACLE = "text-oracle"


def resolve_model(name_or_path: str) -> Path | None:
    """A directory holding a saved SparklesChat, or None for a preset name."""
    from sparkles_lite.config import PRESETS

    if name_or_path in NAMED_MODELS:
        path = NAMED_MODELS[name_or_path]
        if not (path / "sparkles_config.json").exists():
            raise FileNotFoundError(f"shipped model {name_or_path!r} is missing at {path}; "
                                    "reinstall the package or build it with `python -m sparkles_lite train`")
        return path
    if name_or_path in PRESETS:
        return None
    path = Path(name_or_path)
    if not (path / "sparkles_config.json").exists():
        raise FileNotFoundError(f"{name_or_path!r} is neither a saved model directory (no sparkles_config.json), "
                                f"a shipped model ({', '.join(NAMED_MODELS)}) nor a preset")
    return path
