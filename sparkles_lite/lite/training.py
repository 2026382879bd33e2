"""What stage 1 and stage 2 learn from in the lite tier, and what they are measured on.

Stage 1: single-image captions (MiniGPT-4 style); stage 2: multi-image 2-turn dialogues and
questions over 2-4 images (`STAGE2_MIXTURE`). Examples are generated from seeds of their own, apart
from the held-out evaluation seeds (`sparkles_lite.lite.eval.EVAL_SEED`), and the select accuracy
on the held-out select set is measured before and after training (lite models only).

    stats = train_lite(finetune_args(stage=2, init="minigpt4-lite", minutes=3))
"""

from __future__ import annotations

import argparse

from sparkles_lite.lite import world
from sparkles_lite.lite.eval import eval_examples, model_answerer, run_task
from sparkles_lite.lite.tasks import LiteGenerator
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.train.data import TrainItem
from sparkles_lite.train.finetune import Evaluate, TrainData, finetune

STAGE2_MIXTURE = {"dialogue": 0.7, "select": 0.1, "count": 0.05, "more": 0.05, "common": 0.05, "describe": 0.05}
TRAIN_SEEDS = {1: 101, 2: 202}  # + the run's --seed
VALIDATION_SEED = 303  # + the stage: the held-out loss before and after


def lite_items(stage: int, n: int, seed: int) -> TrainData:
    """Stage 1: captions; stage 2: dialogues and multi-image questions. Keys index the scenes."""
    gen = LiteGenerator(seed)
    if stage == 1:
        examples = [gen.caption() for _ in range(n)]
    else:
        tasks, weights = zip(*STAGE2_MIXTURE.items())
        examples = [gen.example(t) for t in gen.rng.choices(tasks, weights, k=n)]
    scenes: dict[tuple[int, str], world.Scene] = {}
    items = []
    for i, ex in enumerate(examples):
        for image_id in ex.image_ids:
            scenes[(i, image_id)] = ex.scenes[image_id]
        items.append(TrainItem(ex.messages, [(i, image_id) for image_id in ex.image_ids], f"lite example {i}"))
    return items, lambda key: world.render(scenes[key])


def is_lite(model: SparklesChat) -> bool:
    """The lite select task renders lite-world scenes and asks in the lite LM's words: lite models only."""
    return model.config.vision.kind == "lite" and model.config.lm.kind == "lite"


def select_accuracy(model: SparklesChat, n: int) -> float:
    """Accuracy on the first n items of the held-out 'select among 2-4' set (model in eval mode)."""
    was_training = model.training
    model.eval()
    acc = run_task(model_answerer(model), eval_examples("select", n), batch_size=64)["accuracy"]
    model.train(was_training)
    return acc


def select_measure(args: argparse.Namespace) -> Evaluate | None:
    """`finetune`'s `evaluate`: the select accuracy on `args.eval_n` items for a lite model (None: not asked)."""
    if not args.eval_n:
        return None
    said = []

    def measure(model: SparklesChat) -> dict[str, float]:
        if not is_lite(model):
            if not said:
                print("select accuracy: not measured (a lite-world task; this model is not a lite model)", flush=True)
                said.append(True)
            return {}
        return {"select_accuracy": select_accuracy(model, args.eval_n)}

    return measure


def train_lite(args: argparse.Namespace) -> dict:
    """`finetune` on lite examples: `args.n_train` from the stage's training seed, `args.n_val` held out."""
    train = lite_items(args.stage, args.n_train, TRAIN_SEEDS[args.stage] + args.seed)
    val = lite_items(args.stage, args.n_val, VALIDATION_SEED + args.stage)
    return finetune(args, train, val, evaluate=select_measure(args))
