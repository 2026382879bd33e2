#!/usr/bin/env python
"""Write MODEL_CARD.md for every shipped lite weight from the metrics saved beside it.

    python tools/write_model_cards.py

Everything comes from the JSON shipped beside the weights: each training run records its
command line, and a run continued from saved weights carries the runs behind them
(`earlier_runs`), so a card lists every run and command that produced the weights, oldest first.
"""

from __future__ import annotations

import json
from pathlib import Path

from sparkles_lite.lite.model_card import write_model_card
from sparkles_lite.lite.pretrain import METRICS_FILE
from sparkles_lite.lite.table import LITE_MODELS, ORACLE_ROW, RESULTS_FILE

A = Path(__file__).resolve().parent.parent / "sparkles_lite" / "assets" / "lite"
DATA_LM = ("Text-only SparklesDialogue-lite generated on the fly (never the same example twice): 2-turn dialogues, "
           "multi-image questions, captions, BISON-/NLVR2-style prompts, with each image's 9 slot words "
           "(size, colour, shape x left/centre/right) in place of the image.")
DATA_S1 = ("Generated single-image captions (each run a fresh set of `n_train`, listed with its run below), asked "
           "`<Img><ImageHere></Img> Describe this image.` (after MiniGPT-4's alignment prompts such as `<Img><ImageHere>"
           "</Img> Describe this image in detail.`; MiniGPT-4's first stage has no text prompt).")
IMAGE_BLOCK_NOTE = ("The image block: every model on the lite LM puts the LM's ' ' text token between an image's 9 tokens and "
                    "`</Img>` (`SparklesChat.after_image`), as in the text the LM was pretrained on "
                    "(`<Img> w1 ... w9 </Img>`). Runs written under `runs/s14/` were the first trained that way; the "
                    "runs before them were trained without it. Every figure on this card is measured with it.")
DEVICE_OUT_NOTE = ("A command with `--out /root/out/...` ran on a lent GPU machine, which writes to that output "
                   "folder; the folder came back here, and the next command's `--init` names where it was copied.")
DATA_S2 = ("Generated SparklesDialogue-lite examples (each run a fresh set of `n_train`, listed with its run "
           "below): 70% 2-turn dialogues over 2-4 images, 30% single questions over 2-4 images; no BISON/NLVR2-style prompt.")


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def runs_of(metrics: dict) -> list[dict]:
    """Every run behind a weight, oldest first: those it carried, then its own (per-step log left out)."""
    own = {k: v for k, v in metrics.items() if k not in ("history", "earlier_runs")}
    return metrics.get("earlier_runs", []) + ([own] if own else [])


def card(path: Path, title: str, what: str, data: str, metrics: dict, results: dict | None, notes: str = "") -> None:
    runs = runs_of(metrics)
    commands = [r["command"] for r in runs if r.get("command")]
    if any("--out /root/out/" in c for c in commands):
        notes += ("\n\n" if notes else "") + DEVICE_OUT_NOTE
    write_model_card(path, title, what, commands, data, [{k: v for k, v in r.items() if k != "command"} for r in runs],
                     results, notes)


def main() -> None:
    results = load(RESULTS_FILE)
    rows = results.get("rows", {})
    title_of = {m.name: m.title for m in LITE_MODELS}
    vision = load(A / "vision" / METRICS_FILE)
    card(A / "vision", "Lite vision tower (LiteViT)",
         "A 4-layer ViT (dim 128, 8x8 patches on 64x64 images, 0.56M parameters), pretrained to read the scene "
         "facts through a 9-query probe (discarded). Frozen in SparklesChat.",
         "Random lite scenes rendered on the fly (1-3 objects, 4 shapes x 4 colours x 2 sizes).",
         vision, None, f"Held-out scenes exactly right: {vision.get('scene_exact')}; slot words right: "
                       f"{vision.get('slot_word_accuracy')}.")
    lm = load(A / "lm" / METRICS_FILE)
    runs = runs_of(lm)
    card(A / "lm", "Lite language model",
         "A Llama (6 layers, width 384, 9.9M parameters, byte-level BPE of 500 tokens trained by the project). "
         "Pretrained on the lite tasks as text, so that a frozen LM has reasoning to lend: "
         + ", then ".join(f"{r.get('steps')} steps x {r.get('batch_size')} sequences on {r.get('device')}"
                          for r in runs) + ", each run continuing the one before. Its weaker spots: the 2-turn "
         "dialogues, above all a second turn that asks which image has something after every image was shown "
         "(right in 1,000 held-out dialogues, run by run: "
         + " -> ".join(r["turn2_select_right"] for r in runs if "turn2_select_right" in r)
         + "; the runs weighted to it used `--mixture turn2_select=0.35`), and BISON-lite, where it leans "
         "to IMAGE#2: on the held-out set nearly all its misses are items whose answer is IMAGE#1.",
         DATA_LM, lm, rows.get(ORACLE_ROW),
         "Evaluation above: the LM alone, reading the true slot words where images go (text oracle).")
    for name, data, what in (
            ("minigpt4-lite", DATA_S1, "Stage 1 only (MiniGPT-4-lite): pooling + Linear projection trained on "
                                       "single-image captions; backbones frozen."),
            ("control-lite", DATA_S1, "The control: MiniGPT-4-lite trained on captions for as many further "
                                      "samples as stage 2 saw (steps x batch). Tests whether stage 2's gain is "
                                      "just more training."),
            ("sparkleschat-lite", DATA_S2, "SparklesChat-lite: MiniGPT-4-lite's projection trained further on "
                                           "multi-image dialogues (stage 2); backbones frozen.")):
        metrics = load(A / name / "train_metrics.json")
        meta = load(A / name / "sparkles_config.json")
        trainable = meta.get("training", {}).get("trainable_parameters", metrics.get("trainable_parameters"))
        card(A / name, name, what + f" Trainable parameters: {trainable}.", data, metrics, rows.get(title_of[name]),
             IMAGE_BLOCK_NOTE)
    print("model cards written under", A)


if __name__ == "__main__":
    main()
