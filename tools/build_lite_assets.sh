#!/usr/bin/env bash
# Build every shipped lite weight with the project's own commands, in one run:
#   vision tower -> LM (+ tokenizer) -> stage 1 (MiniGPT-4-lite) -> stage 2 (SparklesChat-lite) -> control
#   -> install them as package data -> the results table. Made for one GPU (about 9 minutes on an H100);
#   on a CPU scale the minutes up (SCALE=10 ...). After an interruption a rerun resumes the vision tower
#   and a from-scratch LM from their checkpoints; an LM_INIT run and the projection stages start over.
# Usage: tools/build_lite_assets.sh [PACK_DIR]   (PACK_DIR: where to put a tarball of the results)
# To continue the shipped weights after a change instead of starting over:
#   SKIP_VISION=1 LM_INIT=sparkles_lite/assets/lite/lm STAGE1_INIT=minigpt4-lite STAGE2_INIT=sparkleschat-lite \
#   CONTROL_INIT=control-lite   (stage 2 and the control continue their own earlier runs, so their steps stay matched)
# To retrain only the three projections from scratch on the shipped backbones: SKIP_VISION=1 SKIP_LM=1
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}  # the venv `make venv` builds, if any
SCALE=${SCALE:-1}              # multiply every time budget
WORKERS=${WORKERS:-14}
N_EVAL=${N_EVAL:-400}
SMALL=${SMALL:-0}              # 1 = a seconds-long rehearsal of the whole script (tiny steps)
SKIP_VISION=${SKIP_VISION:-0} # 1 = keep the vision tower already in the assets
LM_INIT=${LM_INIT:-}           # a saved LM directory to continue pretraining from
SKIP_LM=${SKIP_LM:-0}          # 1 = keep the LM already in the assets (retrain only the projections)
LM_MIX=${LM_MIX:-}             # the LM's --mixture, e.g. turn2_select=0.35 (its weakest skill)
TABLE=${TABLE:-1}              # 0 = leave the results table for later (it needs the openai package)
PACK=${1:-}
A=sparkles_lite/assets/lite
R=${R:-runs/build-assets}
mkdir -p "$A" "$R"
m() { $PY -c "print($1 * $SCALE)"; }
if [ "$SMALL" = 1 ]; then
  V="--max-steps 30 --batch-size 32"; L="--max-steps 30 --batch-size 32 --eval-n 8"
  S1="--max-steps 10 --n-train 200 --batch-size 16 --eval-n 16"; S2="$S1"; N_EVAL=16
else
  V="--max-steps 4000 --batch-size 256 --minutes $(m 0.8)"
  L="--max-steps 40000 --batch-size 256 --lr ${LM_LR:-0.0015} --minutes $(m ${LM_MINUTES:-4.0}) --eval-n 100"
  S1="--max-steps 2000 --n-train 20000 --batch-size 128 --minutes $(m ${S1_MINUTES:-0.45}) --eval-n 100"
  S2="--max-steps 30000 --n-train 30000 --batch-size 128 --minutes $(m ${S2_MINUTES:-0.9}) --eval-n 100"
fi
pack() {
  [ -n "$PACK" ] || return 0
  mkdir -p "$PACK"; rm -f "$PACK"/assets.tar.part*
  tar -cf - "$A" $(ls "$R"/*/*metrics.json 2>/dev/null) | split -b 15M - "$PACK/assets.tar.part"
  ls -la "$PACK"
}
install() {  # install: RUN_DIR NAME -- a trained projection into the package data
  rm -rf "${A:?}/$2" && mkdir -p "$A/$2" \
    && cp "$1/sparkles_config.json" "$1/trainable.safetensors" "$1/train_metrics.json" "$A/$2/"
}
set -x
if [ "$SKIP_VISION" != 1 ]; then
  $PY -m sparkles_lite pretrain --part vision --out "$R" --workers "$WORKERS" --log-every 100 --quiet $V \
    && rm -rf "$A/vision" && cp -r "$R/vision" "$A/vision" || exit 1
  pack
fi
if [ "$SKIP_LM" != 1 ]; then
  if [ -n "$LM_INIT" ]; then rm -rf "$R/lm-init" && cp -r "$LM_INIT" "$R/lm-init"; L="$L --init $R/lm-init --no-resume"; fi
  if [ -n "$LM_MIX" ]; then L="$L --mixture $LM_MIX"; fi
  $PY -m sparkles_lite pretrain --part lm --out "$R" --workers "$WORKERS" --log-every 100 --quiet $L \
    && rm -rf "$A/lm" && cp -r "$R/lm" "$A/lm" || exit 1
  pack
fi
$PY -m sparkles_lite train --stage 1 --init "${STAGE1_INIT:-lite}" --out "$R/stage1" --quiet --no-resume $S1 \
  && install "$R/stage1" minigpt4-lite || exit 1
pack
$PY -m sparkles_lite train --stage 2 --init "${STAGE2_INIT:-$R/stage1}" --out "$R/stage2" --seed "${STAGE2_SEED:-0}" --quiet --no-resume $S2 \
  && install "$R/stage2" sparkleschat-lite || exit 1
pack
# the control: as many extra steps as stage 2 took, on captions only
S2_STEPS=$($PY -c "import json; print(json.load(open('$R/stage2/train_metrics.json'))['steps'])")
$PY -m sparkles_lite train --stage 1 --init "${CONTROL_INIT:-$R/stage1}" --out "$R/control" --seed 1 --quiet $S2 \
  --max-steps "$S2_STEPS" --no-resume && install "$R/control" control-lite || exit 1
pack
[ "$TABLE" = 1 ] || exit 0
$PY -m sparkles_lite.lite.table --n "$N_EVAL" --batch-size 200 --out "$A/results.json"
pack
