"""SparklesChat as an evaluation `AnswerFn`: the bridge between a model and the protocol runners.

The runners (`choice_tasks.run_choice_task`, `sparkles_eval.run_sparkles_eval`) hand over the
conversation so far and the images by id; SparklesChat wants the images as a list in the order
their placeholders appear, which is the order of the messages' `ImageRef`s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import torch
from PIL import Image

from sparkles_lite.data.schema import Message, placeholder_ids
from sparkles_lite.eval.protocols import AnswerFn


def images_in_order(messages: list[Message], images: Mapping[str, Image.Image]) -> list[Image.Image]:
    """The images of a conversation in placeholder order; a KeyError names a missing id."""
    ids = [ref.image_id for m in messages for ref in m.images]
    placed = [i for m in messages for i in placeholder_ids(m.content)]
    if ids != placed:
        raise ValueError(f"the messages list images {ids} but their placeholders are for {placed}")
    missing = [i for i in ids if i not in images]
    if missing:
        raise KeyError(f"no image given for IMAGE#{', IMAGE#'.join(missing)}")
    return [images[i] for i in ids]


def sampling_seed(seed: int, messages: list[Message], attempt: int) -> int:
    """A seed for one sampled answer, from the run's seed, the conversation and the attempt: items draw
    independently, a re-ask draws anew, and a resumed or repeated run draws the same."""
    text = json.dumps([seed, attempt, [(m.role, m.content) for m in messages]], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def model_answer_fn(model, max_new_tokens: int = 48, do_sample: bool = False, seed: int = 0,
                    temperature: float = 1.0, top_p: float = 1.0) -> AnswerFn:
    """An `AnswerFn` for a `SparklesChat` (any preset: lite or real checkpoints).

    Greedy by default (deterministic: resumed runs and re-runs agree; asking again gives the same
    reply). With `do_sample` every ask samples, seeded by `sampling_seed`, so it is reproducible too.
    """
    def answer(messages: list[Message], images: Mapping[str, Image.Image], attempt: int = 0) -> str:
        pixels = images_in_order(messages, images)
        if do_sample:
            torch.manual_seed(sampling_seed(seed, messages, attempt))
        out = model.generate(list(messages), pixels, max_new_tokens=max_new_tokens, do_sample=do_sample,
                             temperature=temperature, top_p=top_p)
        return out.text

    answer.model = model  # type: ignore[attr-defined]  # for logs and notebooks
    return answer


def set_eval_threads(n: int | None = 1) -> int:
    """Threads for CPU evaluation; returns the count in use. One-sequence generation with tiny
    models gains little from a second thread, and on a busy 2-core machine two threads can run
    ~10x slower than one (see the engineering notes), so evaluation defaults to 1. `None` or 0
    leaves torch's setting; an explicit OMP_NUM_THREADS always wins."""
    import os

    if n and "OMP_NUM_THREADS" not in os.environ and not torch.cuda.is_available():
        torch.set_num_threads(n)
    return torch.get_num_threads()
