#!/usr/bin/env bash
# Install the suite into .venv at the repo root. Idempotent: when requirements.txt, pyproject.toml and
# this script are unchanged, the suite's packages import and mmcv's compiled ops work, it returns
# after two quick checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.suite-installed"
# A matched pair from PyPI. 2.13.0 has no torchvision; 2.14 needs setuptools >= 77, while mmcv 2.1.0's
# setup.py needs pkg_resources from setuptools < 70.
TORCH_PIN=(torch==2.12.1 torchvision==0.27.1)
MMCV_PIN=mmcv==2.1.0
want="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" "${BASH_SOURCE[0]}" | sha256sum |
        cut -d' ' -f1)"

mmcv_ops_work() {
  "$PY" - <<'PYEOF'
import torch
from mmcv.ops import nms
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
for device in devices:  # a CPU-only build fails here on a GPU machine
    _, keep = nms(boxes.to(device), torch.tensor([0.9, 0.8, 0.7], device=device), 0.5)
    assert keep.tolist() == [0, 2], (device, keep)
PYEOF
}

# Found from outside the repo, where only installed packages are (found, not imported: quick).
suite_installed() {
  (cd / && "$PY" -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(p) is None for p in
    ("backbones", "benchmarks", "engine", "figures", "pretrain", "suite", "synthetic",
     "transfer")))')
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && suite_installed 2>/dev/null &&
   mmcv_ops_work 2>/dev/null; then
  echo "setup_env: .venv is up to date"
  exit 0
fi

if [[ ! -x "$PY" ]]; then
  BASE_PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
  if ! "$BASE_PY" -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 12))'; then
    echo "setup_env: $BASE_PY is $("$BASE_PY" -V 2>&1); the stack (numpy<2, mmcv 2.1.0) needs" \
         "Python 3.9-3.12, tested on 3.11: set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
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
# The suite itself, editable (tools/ and tests import it; edits apply without reinstalling). Its
# dependencies are the ones above: --no-deps, and the setuptools in .venv builds it.
pip_install --no-deps --no-build-isolation -e "$ROOT"

# mmcv has no wheel for new torch: compile it, ops included, against the torch in .venv, and keep the
# wheel in a cache keyed by that torch (pip's own cache ignores which torch a wheel was built for).
flavour="$("$PY" -c 'import torch; print(torch.__version__.replace("+", "-") + ("-cuda" if torch.cuda.is_available() else "-cpu"))')"
WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/jepa-suite/$MMCV_PIN-torch-$flavour"
build_mmcv() {
  echo "setup_env: compiling $MMCV_PIN for torch $flavour (about 10 minutes on 2 cores)"
  rm -rf "$WHEELS" "$WHEELS.tmp"
  if [[ "$flavour" == *-cuda ]]; then
    if ! command -v nvcc >/dev/null && [[ ! -x "${CUDA_HOME:-/nonexistent}/bin/nvcc" ]]; then
      echo "setup_env: a GPU is visible, so mmcv's CUDA ops must be compiled, but there is no" \
           "nvcc: install the CUDA toolkit matching torch ($flavour) and set CUDA_HOME" >&2
      exit 1
    fi
    export FORCE_CUDA=1
  fi
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "$PY" -m pip wheel --disable-pip-version-check \
    --no-build-isolation --no-deps --no-cache-dir "$MMCV_PIN" -w "$WHEELS.tmp"
  mv "$WHEELS.tmp" "$WHEELS"
}
if ! mmcv_ops_work 2>/dev/null; then
  ls "$WHEELS"/mmcv-*.whl >/dev/null 2>&1 || build_mmcv
  pip_install --no-deps --force-reinstall "$WHEELS"/mmcv-*.whl
  if ! mmcv_ops_work 2>/dev/null; then
    echo "setup_env: the cached mmcv wheel does not work with this torch; rebuilding"
    build_mmcv
    pip_install --no-deps --force-reinstall "$WHEELS"/mmcv-*.whl
    mmcv_ops_work
  fi
fi
echo "$want" > "$STAMP"
echo "setup_env: done"
