#!/usr/bin/env bash
# The main job on the embedded default: install into .venv (idempotent), write a synthetic COCO
# dataset, train Mask R-CNN on the suite's ViT for a few epochs on CPU and report COCO box/mask AP.
# Extra args go to tools/train.py (e.g. --cfg-options train_cfg.max_epochs=4).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
DATA="${SYNTH_COCO_ROOT:-$ROOT/data/synthetic_coco}"
if [[ ! -f "$DATA/annotations/instances_val2017.json" ]]; then
  "$PY" tools/make_synthetic_data.py coco "$DATA" --num-train 16 --num-val 8 --seed 0
fi
SYNTH_COCO_ROOT="$DATA" exec "$PY" tools/train.py configs/smoke/maskrcnn_dseq_vittiny_synthcoco.py \
  --work-dir "$ROOT/work_dirs/demo_maskrcnn" "$@"
