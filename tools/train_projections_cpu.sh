#!/usr/bin/env bash
# Train the three shipped projections on a CPU, with the shipped backbones frozen:
#   stage 1 (MiniGPT-4-lite) -> stage 2 (SparklesChat-lite) and the control (stage 1 + as many caption
#   steps as stage 2 took) -> install them as package data -> the results table (n=400 per task).
# This is how the shipped projections were finished after the GPU budget ran out (see the MODEL_CARDs).
# Every step resumes if interrupted (rerun the script). Usage: tools/train_projections_cpu.sh [STAGE2_MINUTES]
# To continue shipped projections after a backbone change instead of starting over:
#   STAGE1_INIT=minigpt4-lite STAGE1_STEPS=200 STAGE2_INIT=sparkleschat-lite CONTROL_INIT=control-lite
# (stage 2 and the control then continue their own earlier runs, so their step counts stay matched).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
R=${R:-runs/cpu}
S2_MINUTES=${1:-40}
A=sparkles_lite/assets/lite
$PY -m sparkles_lite train --stage 1 --init "${STAGE1_INIT:-lite}" --out "$R/stage1" --max-steps "${STAGE1_STEPS:-1500}" --batch-size 64 \
  --lr "${STAGE1_LR:-0.002}" --n-train 20000 --seed 2 --eval-n 50 --log-every 25 --quiet
$PY -m sparkles_lite train --stage 2 --init "${STAGE2_INIT:-$R/stage1}" --out "$R/stage2" --minutes "$S2_MINUTES" \
  --max-steps 100000 --batch-size 32 --lr 0.002 --n-train "${STAGE2_N_TRAIN:-20000}" --eval-n 100 --log-every 10 --quiet
S2=$($PY -c "import json; print(json.load(open('$R/stage2/train_metrics.json'))['steps'])")
$PY -m sparkles_lite train --stage 1 --init "${CONTROL_INIT:-$R/stage1}" --out "$R/control" --max-steps "$S2" \
  --batch-size 32 --lr 0.002 --n-train 20000 --seed 3 --eval-n 100 --log-every 10 --quiet
for pair in "stage1 minigpt4-lite" "stage2 sparkleschat-lite" "control control-lite"; do
  set -- $pair
  rm -rf "${A:?}/$2" && mkdir -p "$A/$2"
  cp "$R/$1/sparkles_config.json" "$R/$1/trainable.safetensors" "$R/$1/train_metrics.json" "$A/$2/"
done
$PY -m sparkles_lite.lite.table --n 400 --batch-size 100 --out "$A/results.json"
$PY tools/write_model_cards.py
