#!/usr/bin/env bash
# The main job on the embedded default: install into .venv (idempotent), then the `tiny` suite on
# CPU: synthetic COCO, ADE20K and CLEVR data, I-JEPA and DSeq-JEPA pretraining of a tiny ViT, Mask
# R-CNN, UperNet and the CLEVR probes on each checkpoint (and a random-init encoder on CLEVR),
# region pictures, and the comparison table. A rerun skips the stages that are done.
# Extra args go to tools/run_suite.py (e.g. --work-dir DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" tools/run_suite.py --preset tiny "$@"
