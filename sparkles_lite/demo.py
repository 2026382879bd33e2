"""`python -m sparkles_lite demo` (what `make demo` runs): the lite pipeline end to end, offline.

1. generate SparklesDialogue-lite data in the real file layouts and summarise it;
2. train stage 2 (SparklesChat) for a few CPU minutes from the shipped stage-1 (MiniGPT-4-lite)
   projection, printing held-out loss and select accuracy before and after;
3. ask the shipped MiniGPT-4-lite and SparklesChat-lite the same multi-image question;
4. print the comparison table of the shipped models (held-out lite images, 95% CIs) beside the
   paper's numbers.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from sparkles_lite.device import add_device_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--minutes", type=float, default=3.0, help="stage-2 training time on this machine")
    p.add_argument("--n-dialogues", type=int, default=200)
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--eval-n", type=int, default=100)
    add_device_arguments(p)


def run(args: argparse.Namespace) -> int:
    from transformers.utils import logging as hf_logging

    from sparkles_lite.data.io import load_dialogues
    from sparkles_lite.data.schema import strip_placeholders
    from sparkles_lite.lite import world
    from sparkles_lite.lite.eval import verdicts
    from sparkles_lite.lite.files import write_lite_dataset
    from sparkles_lite.lite.table import load_results, print_lite_table
    from sparkles_lite.lite.tasks import LiteGenerator
    from sparkles_lite.lite.training import train_lite
    from sparkles_lite.model.sparkles_chat import SparklesChat
    from sparkles_lite.train.common import set_threads
    from sparkles_lite.train.finetune import finetune_args

    set_threads()
    hf_logging.disable_progress_bar()  # no 'Loading weights' bars between the demo's lines
    out = Path(args.out)
    print("== 1. SparklesDialogue-lite data (real file layouts) ==")
    data_dir = out / "data"
    write_lite_dataset(data_dir, n_dialogues=args.n_dialogues, seed=0)
    dialogues = load_dialogues(data_dir / "sparkles_dialogue.json")
    images = Counter(len(d.images) for d in dialogues)
    print(f"{len(dialogues)} dialogues in {data_dir}; images per dialogue: {dict(sorted(images.items()))}")
    print("files:", ", ".join(sorted(p.name for p in data_dir.iterdir())))

    print(f"\n== 2. Stage 2 for {args.minutes} min from the shipped stage-1 projection ==")
    result = train_lite(finetune_args(stage=2, out=out / "stage2", init="minigpt4-lite", minutes=args.minutes,
                                      max_steps=100000, n_train=args.n_train, batch_size=32,
                                      eval_n=args.eval_n, quiet=True, log_lines=False, resume=False,
                                      log_every=10, device=args.device, dtype=args.dtype))
    b, a = result["before"], result["after"]
    print(f"{result['steps']} steps: held-out loss {b['heldout_loss']:.3f} -> {a['heldout_loss']:.3f}; "
          f"select accuracy {b['select_accuracy']:.2f} -> {a['select_accuracy']:.2f} (n={args.eval_n})")

    print("\n== 3. The same question to both shipped models ==")
    ex = LiteGenerator(7).single("more")
    pictures = [world.render(ex.scenes[i]) for i in ex.image_ids]
    question = ex.messages[0]
    print("Q:", strip_placeholders(question.content), "| truth:", ex.messages[1].content)
    for name in ("minigpt4-lite", "sparkleschat-lite"):
        model = SparklesChat.from_pretrained(name, device=args.device, dtype=args.dtype).eval()
        reply = model.generate([question], pictures).text
        print(f"  {name}: {reply}")

    print("\n== 4. Shipped models on held-out lite images (95% CI) beside the paper ==")
    print_lite_table()
    results = load_results()
    print("\nSparklesChat-lite vs MiniGPT-4-lite, per task:")
    for line in verdicts(results["rows"], "SparklesChat-lite (stage 2)", "MiniGPT-4-lite (stage 1)"):
        print("  ", line)
    (out / "demo_summary.json").write_text(json.dumps({"stage2": {k: v for k, v in result.items() if k != "history"},
                                                       "table": results}, indent=1))
    return 0
