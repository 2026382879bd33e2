"""The text oracle: the frozen lite LM alone, reading each image's true scene words where its
placeholder sits. It ignores the pixels, so it is the ceiling a projection can reach, and the lite
counterpart of the paper's GPT-4 row (which also answers from text it is given).

Two forms: a `BatchAnswerer` for the exact-scored held-out sets (`sparkles_lite.lite.eval`), and an
`AnswerFn` for the paper's protocols, run on lite data files (their scenes.json holds the truth):
`python -m sparkles_lite eval --model text-oracle ...`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PIL import Image

from sparkles_lite.data.schema import Message
from sparkles_lite.eval import runs
from sparkles_lite.eval.protocols import CHOICE_PROTOCOLS, AnswerFn
from sparkles_lite.lite import world
from sparkles_lite.lite.eval import BatchAnswerer
from sparkles_lite.lite.files import SCENES_FILE, load_scenes
from sparkles_lite.lite.tasks import LiteExample, text_only
from sparkles_lite.model.text_lm import generate_text_batch

TEXT_ORACLE = "text-oracle"  # not a saved model: the name `eval --model` gives the oracle


def oracle_answerer(generate_text_batch: Callable[[list[list[Message]]], list[str]]) -> BatchAnswerer:
    """The LM alone, given the true scene words where images go: the ceiling a projection can reach."""
    def answer(items: list[tuple[list[Message], LiteExample]]) -> list[str]:
        return generate_text_batch([text_only(messages, ex.scenes) for messages, ex in items])
    return answer


def oracle_answer_fn(lm, tokenizer, scenes: Mapping[str, world.Scene], max_new_tokens: int = 48) -> AnswerFn:
    """An `AnswerFn` for the text oracle. Only lite data has the true scenes (scenes.json); a
    KeyError names an image without one."""
    scenes = dict(scenes)

    def answer(messages: list[Message], images: Mapping[str, Image.Image]) -> str:
        missing = [ref.image_id for m in messages for ref in m.images if ref.image_id not in scenes]
        if missing:
            raise KeyError(f"the text oracle has no true scene for IMAGE#{', IMAGE#'.join(missing)}")
        return generate_text_batch(lm, tokenizer, [text_only(list(messages), scenes)],
                                   max_new_tokens=max_new_tokens)[0]

    answer.model = TEXT_ORACLE  # type: ignore[attr-defined]
    return answer


def text_oracle(data_file: str | Path, max_new_tokens: int = 48, device: str = "cpu") -> AnswerFn:
    """The shipped lite LM as the oracle for a lite data file: it reads the scenes.json beside it
    (a ValueError when there is none: the text oracle runs only on lite data)."""
    import torch

    from sparkles_lite.assets import LITE_LM
    from sparkles_lite.device import pick_device
    from sparkles_lite.model.language import load_lm
    from sparkles_lite.model.tokenizer import load_tokenizer

    scenes_file = Path(data_file).parent / SCENES_FILE
    if not scenes_file.is_file():
        raise ValueError(f"--model {TEXT_ORACLE} reads the true scenes, but {scenes_file} does not exist: "
                         "the text oracle runs only on lite data (written with its scenes.json)")
    lm = load_lm(str(LITE_LM), dtype=torch.float32).to(pick_device(device)).eval()
    return oracle_answer_fn(lm, load_tokenizer(LITE_LM), load_scenes(scenes_file), max_new_tokens)


def answer_fn_for(model: Any, data_file: str | Path, max_new_tokens: int, seed: int, protocol: str = "strict",
                  device: str = "cpu", dtype: str = "auto") -> AnswerFn:
    """The `runs.AnswerMaker` of the lite tier: a model (a name, a directory or a loaded SparklesChat), or
    `text-oracle` (greedy: it refuses a sampling protocol)."""
    if model == TEXT_ORACLE:
        if CHOICE_PROTOCOLS[protocol].do_sample:
            raise ValueError(f"--model {TEXT_ORACLE} decodes greedily; --protocol {protocol} is for models")
        return text_oracle(data_file, max_new_tokens, device)
    return runs.answer_fn_for_model(model, data_file, max_new_tokens, seed, protocol, device, dtype)
