#!/usr/bin/env bash
# Build every shipped lite weight with the project's own commands, in one run:
#   vision tower -> LM (+ tokenizer) -> stage 1 (MiniGPT-4-lite) -> control -> stage 2 (SparklesChat-lite)
#   -> the results table. Made for one GPU (about 9 minutes on an H100); on a CPU scale the
#   minutes up (SCALE=10 ...) and rerun after interruptions: every step resumes.
# Usage: tools/build_lite_assets.sh [PACK_DIR]   (PACK_DIR: where to put a tarball of the results)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
SCALE=${SCALE:-1}              # multiply every time budget
WORKERS=${WORKERS:-14}
N_EVAL=${N_EVAL:-400}
SMALL=${SMALL:-0}              # 1 = a seconds-long rehearsal of the whole script (tiny steps)
SKIP_VISION=${SKIP_VISION:-0} # 1 = keep the vision tower already in the assets
LM_INIT=${LM_INIT:-}           # a saved LM directory to continue pretraining from
PACK=${1:-}
A=sparkles_lite/assets/lite
R=runs/build-assets
mkdir -p "$A" "$R"
m() { $PY -c "print($1 * $SCALE)"; }
if [ "$SMALL" = 1 ]; then
  V="--max-steps 30 --batch-size 32"; L="--max-steps 30 --batch-size 32 --eval-n 8"
  S1="--max-steps 10 --n-train 200 --batch-size 16 --eval-n 16"; S2="$S1"; N_EVAL=16
else
  V="--max-steps 4000 --batch-size 256 --minutes $(m 0.8)"
  L="--max-steps 20000 --batch-size 256 --lr 0.0015 --minutes $(m 4.0) --eval-n 100"
  S1="--max-steps 2000 --n-train 20000 --batch-size 128 --minutes $(m 0.45) --eval-n 100"
  S2="--max-steps 3000 --n-train 20000 --batch-size 128 --minutes $(m 0.9) --eval-n 100"
fi
pack() {
  [ -n "$PACK" ] || return 0
  mkdir -p "$PACK"; rm -f "$PACK"/assets.tar.part*
  tar -cf - "$A" $(ls "$R"/*.json "$R"/*.jsonl 2>/dev/null) | split -b 15M - "$PACK/assets.tar.part"
  ls -la "$PACK"
}
set -x
if [ "$SKIP_VISION" != 1 ]; then
  $PY -m sparkles_lite pretrain --part vision --out "$R" --workers "$WORKERS" --log-every 100 --quiet $V \
    && rm -rf "$A/vision" && cp -r "$R/vision" "$A/vision" || exit 1
  pack
fi
if [ -n "$LM_INIT" ]; then rm -rf "$R/lm-init" && cp -r "$LM_INIT" "$R/lm-init"; L="$L --init $R/lm-init --no-resume"; fi
$PY -m sparkles_lite pretrain --part lm --out "$R" --workers "$WORKERS" --log-every 100 --quiet $L \
  && rm -rf "$A/lm" && cp -r "$R/lm" "$A/lm" || exit 1
pack
$PY -m sparkles_lite train --stage 1 --out "$A/minigpt4-lite" --quiet --no-resume $S1 || exit 1
pack
$PY -m sparkles_lite train --stage 2 --init "$A/minigpt4-lite" --out "$A/sparkleschat-lite" --quiet --no-resume $S2 || exit 1
pack
# the control: as many extra steps as stage 2 took, on captions only
S2_STEPS=$($PY -c "import json; print(json.load(open('$A/sparkleschat-lite/train_metrics.json'))['steps'])")
$PY -m sparkles_lite train --stage 1 --init "$A/minigpt4-lite" --out "$A/control-lite" --seed 1 --quiet $S2 \
  --max-steps "$S2_STEPS" --no-resume || exit 1
pack
$PY -m sparkles_lite.eval.table --n "$N_EVAL" --batch-size 200 --out "$A/results.json"
rm -f "$A"/*/checkpoint.pt
pack
