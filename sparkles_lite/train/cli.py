"""`python -m sparkles_lite train --stage 1|2`: the training loop (`train.finetune`) on real data
(`--data`: dialogue or per-turn files, `train.data`) or on lite examples generated on the fly."""

from __future__ import annotations

import argparse
import sys

from transformers.utils import logging as hf_logging

from sparkles_lite.lite.training import select_measure, train_lite
from sparkles_lite.train import common
from sparkles_lite.train.data import parse_turn_ratio
from sparkles_lite.train.finetune import add_arguments, file_data, finetune

__all__ = ["add_arguments", "run"]  # the command: its options are the training options


def train(args: argparse.Namespace) -> dict:
    """--data files (`finetune.file_data`) or, without --data, lite examples (`lite.training.train_lite`)."""
    if not args.data:
        return train_lite(args)
    return finetune(args, *file_data(args), evaluate=select_measure(args))


def run(args: argparse.Namespace) -> int:
    common.set_threads()
    if args.quiet:
        hf_logging.disable_progress_bar()  # transformers' 'Loading weights' bar too
    if args.turn_ratio is not None:
        if not args.data:
            print("error: --turn-ratio draws from per-turn files: give them with --data", file=sys.stderr)
            return 2
        try:
            parse_turn_ratio(args.turn_ratio)
        except ValueError as e:
            print(f"error: {e} (--turn-ratio)", file=sys.stderr)
            return 2
    train(args)  # bad data, images, models and folders: one line from `sparkles_lite.cli`
    return 0
