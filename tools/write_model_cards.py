#!/usr/bin/env python
"""Write MODEL_CARD.md for every shipped lite weight from the metrics saved beside it.

    python tools/write_model_cards.py

The commands listed are the ones that produced the shipped files (GPU build, then the CPU
continuation of the projections); numbers come from the JSON files shipped beside the weights,
except the runs before the latest one (`EARLIER`), copied from their own train_metrics.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from sparkles_lite.eval.table import MODEL_ROWS, ORACLE_ROW, RESULTS_FILE
from sparkles_lite.train.model_card import write_model_card

A = Path(__file__).resolve().parent.parent / "sparkles_lite" / "assets" / "lite"
GPU_1 = "SCALE=0.9 WORKERS=14 bash tools/build_lite_assets.sh OUT   # one H100: vision tower, first LM run"
GPU_2 = ("SCALE=0.8 WORKERS=15 SKIP_VISION=1 LM_INIT=sparkles_lite/assets/lite/lm "
         "bash tools/build_lite_assets.sh OUT   # one H100: LM continued, first projections")
CPU = ("python -m sparkles_lite train --stage 1 --init minigpt4-lite --out runs/cpu/stage1 --max-steps 500 "
       "--batch-size 64 --lr 0.002 --n-train 20000 --seed 2\n"
       "STAGE1_INIT=runs/cpu/stage1 ... bash tools/train_projections_cpu.sh 40   "
       "# stage 2 for 40 min, the matched control, the table")
# Each continuation of stage 2 and, matched step for step, of the control (S2_STEPS: that run's stage-2 steps).
CPU_CONTINUED = [
    ("python -m sparkles_lite train --stage 2 --init sparkleschat-lite --out runs/cpu2/stage2 --minutes 42 "
     "--max-steps 100000 --batch-size 32 --lr 0.002 --n-train 30000 --seed 1   # bf16 autocast on the CPU\n"
     "python -m sparkles_lite train --stage 1 --init control-lite --out runs/cpu2/control --max-steps 3273 "
     "--batch-size 32 --lr 0.002 --n-train 20000 --seed 4   # the control: as many caption steps"),
    ("python -m sparkles_lite train --stage 2 --init sparkleschat-lite --out runs/cpu3/stage2 --minutes 65 "
     "--max-steps 100000 --batch-size 32 --lr 0.002 --n-train 30000 --seed 2   # fresh data, bf16\n"
     "python -m sparkles_lite train --stage 1 --init control-lite --out runs/cpu3/control --max-steps S2_STEPS "
     "--batch-size 32 --lr 0.002 --n-train 20000 --seed 5   # the control: as many caption steps"),
]
# Runs before the latest one, from their saved train_metrics.json (the latest run's file ships beside the weights).
EARLIER = {
    "control-lite": [{"run": "CPU control", "stage": 1, "steps": 1600, "batch_size": 32, "minutes": 7.4,
                      "device": "cpu", "n_train": 20000},
                     {"run": "CPU continued (bf16)", "stage": 1, "steps": 3273, "batch_size": 32, "minutes": 12.81,
                      "device": "cpu", "n_train": 20000,
                      "before": {"heldout_loss": 0.0113, "select_accuracy": 0.07},
                      "after": {"heldout_loss": 0.0090, "select_accuracy": 0.11}}],
    "sparkleschat-lite": [{"run": "CPU stage 2", "stage": 2, "steps": 1600, "batch_size": 32, "minutes": 24.4,
                           "device": "cpu", "n_train": 20000,
                           "before": {"heldout_loss": 0.890, "select_accuracy": 0.06},
                           "after": {"heldout_loss": 0.191, "select_accuracy": 0.44}},
                          {"run": "CPU continued (bf16)", "stage": 2, "steps": 3273, "batch_size": 32,
                           "minutes": 42.07, "device": "cpu", "n_train": 30000,
                           "before": {"heldout_loss": 0.191, "select_accuracy": 0.44},
                           "after": {"heldout_loss": 0.156, "select_accuracy": 0.44}}],
}
DATA_LM = ("Text-only SparklesDialogue-lite generated on the fly (never the same example twice): 2-turn dialogues, "
           "multi-image questions, captions, BISON-/NLVR2-style prompts, with each image's 9 slot words "
           "(size, colour, shape x left/centre/right) in place of the image.")
DATA_S1 = "20,000 generated single-image captions, MiniGPT-4 prompt `<Img><ImageHere></Img> Describe this image.`"
DATA_S2 = ("Generated SparklesDialogue-lite examples (20,000, then a fresh 30,000 for each continued run): 70% 2-turn "
           "dialogues over 2-4 images, 30% single questions over 2-4 images; no BISON/NLVR2-style prompt.")


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def main() -> None:
    results = load(RESULTS_FILE)
    rows = results.get("rows", {})
    title_of = {name: title for title, name in MODEL_ROWS.items()}
    vision = load(A / "vision" / "pretrain_metrics.json")
    write_model_card(A / "vision", "Lite vision tower (LiteViT)",
                     "A 4-layer ViT (dim 128, 8x8 patches on 64x64 images, 0.56M parameters), pretrained to "
                     "read the scene facts through a 9-query probe (discarded). Frozen in SparklesChat.",
                     ["python -m sparkles_lite pretrain --part vision --out runs/build-assets --workers 14 "
                      "--max-steps 4000 --batch-size 256 --minutes 0.72", f"# inside: {GPU_1}"],
                     "Random lite scenes rendered on the fly (1-3 objects, 4 shapes x 4 colours x 2 sizes).",
                     [vision], None, f"Held-out scenes exactly right: {vision.get('scene_exact')}; slot words right: "
                                     f"{vision.get('slot_word_accuracy')}.")
    lm = load(A / "lm" / "pretrain_metrics.json")
    oracle = rows.get(ORACLE_ROW)
    write_model_cards_lm = (
        "A Llama (6 layers, width 384, 9.9M parameters, byte-level BPE of 500 tokens trained by the project). "
        "Pretrained on the lite tasks as text, so that a frozen LM has reasoning to lend. Two GPU runs: "
        "889 steps x 512 sequences (stopped early by a step-budget bug, since fixed), then continued for "
        f"{lm.get('steps')} steps x {lm.get('batch_size')}. Its weaker spots are the 2-turn dialogues (the GPU "
        "budget ran out before it converged there) and NLVR2-lite since that set was balanced within each "
        "statement kind: it was pretrained on the old generator, whose wording often gave the answer away "
        "(its pretraining log's nlvr2 figure is on that old distribution).")
    write_model_card(A / "lm", "Lite language model", write_model_cards_lm,
                     ["python -m sparkles_lite pretrain --part lm --out runs/build-assets --workers 14 "
                      "--max-steps 8000 --batch-size 512 --minutes 3.6", f"# inside: {GPU_1}",
                      "python -m sparkles_lite pretrain --part lm --init runs/build-assets/lm-init --no-resume "
                      "--batch-size 256 --lr 0.0015 --minutes 3.2", f"# inside: {GPU_2}"],
                     DATA_LM, [lm], oracle,
                     "Evaluation above: the LM alone, reading the true slot words where images go (text oracle).")
    for name, data, what in (
            ("minigpt4-lite", DATA_S1, "Stage 1 only (MiniGPT-4-lite): pooling + Linear projection trained on "
                                       "single-image captions; backbones frozen."),
            ("control-lite", DATA_S1, "The control: MiniGPT-4-lite trained on captions for as many further steps "
                                      "as stage 2 took. Tests whether stage 2's gain is just more training."),
            ("sparkleschat-lite", DATA_S2, "SparklesChat-lite: MiniGPT-4-lite's projection trained further on "
                                           "multi-image dialogues (stage 2); backbones frozen.")):
        metrics = load(A / name / "train_metrics.json")
        meta = load(A / name / "sparkles_config.json")
        runs = [{"run": "GPU stage 1", "device": "NVIDIA H100 80GB HBM3", "minutes": 0.36, "batch_size": 128,
                 "note": "first 0.36 min of stage 1, inside the GPU build"},
                {"run": "CPU stage 1 continued", "steps": 500, "batch_size": 64, "device": "cpu (2 cores)",
                 "minutes": 25.74}]
        commands = [GPU_2, CPU]
        if name != "minigpt4-lite":
            runs += EARLIER[name]
            runs.append({"run": "CPU continued again (bf16, fresh data)"} | {k: metrics.get(k) for k in (
                "stage", "steps", "batch_size", "minutes", "device", "n_train", "before", "after")})
            s2_steps = str(load(A / "sparkleschat-lite" / "train_metrics.json").get("steps"))
            commands += [c.replace("S2_STEPS", s2_steps) for c in CPU_CONTINUED]
        trainable = meta.get("training", {}).get("trainable_parameters", metrics.get("trainable_parameters"))
        write_model_card(A / name, name, what + f" Trainable parameters: {trainable}.", commands, data, runs,
                         rows.get(title_of[name]))
    print("model cards written under", A)


if __name__ == "__main__":
    main()
