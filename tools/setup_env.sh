#!/usr/bin/env bash
# Install the suite into .venv at the repo root. Idempotent: when requirements.txt and this script are
# unchanged and mmcv's compiled ops work, it returns after one quick import check.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.suite-installed"
# A matched pair from PyPI; 2.13.0 is excluded because no torchvision exists for it.
TORCH_PIN=(torch==2.14.1 torchvision==0.29.1)
MMCV_PIN=mmcv==2.1.0
want="$(cat "$ROOT/requirements.txt" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"

mmcv_ops_work() {
  "$PY" - <<'PYEOF'
import torch
from mmcv.ops import nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
_, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
assert keep.tolist() == [0, 2], keep
PYEOF
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && mmcv_ops_work 2>/dev/null; then
  echo "setup_env: .venv is up to date"
  exit 0
fi

if [[ ! -x "$PY" ]]; then
  BASE_PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
  echo "setup_env: creating .venv with $BASE_PY"
  "$BASE_PY" -m venv "$VENV"
fi
pip_install() { "$PY" -m pip install --disable-pip-version-check "$@"; }

if "$PY" -c "import torch, torchvision" 2>/dev/null; then
  echo "setup_env: keeping $("$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)')"
elif "$PY" -c "import torch" 2>/dev/null; then
  # Keep the installed torch and add the torchvision release made for it (minor + 15).
  tv="$("$PY" -c 'import torch; ma, mi, pa = torch.__version__.split("+")[0].split(".")[:3]; print(f"0.{int(mi) + 15}.{pa}")')"
  pip_install "torchvision==$tv"
else
  pip_install "${TORCH_PIN[@]}"
fi
pip_install -r "$ROOT/requirements.txt"

if ! mmcv_ops_work 2>/dev/null; then
  # mmcv has no wheel for this torch: compile it, ops included, against the torch just installed.
  export MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}"
  pip_install --no-build-isolation "$MMCV_PIN"
  if ! mmcv_ops_work; then
    # pip's cache may hold a wheel built against another torch: rebuild from source.
    echo "setup_env: cached mmcv wheel does not work with this torch; rebuilding"
    pip_install --no-build-isolation --no-cache-dir --force-reinstall --no-deps "$MMCV_PIN"
    mmcv_ops_work
  fi
fi
echo "$want" > "$STAMP"
echo "setup_env: done"
