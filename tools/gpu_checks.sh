#!/usr/bin/env bash
# The suite's checks that need a GPU, in one run, each log also written to OUT_DIR:
#   device    the GPU, torch and Triton (fails without a GPU: the tests would skip)
#   tests     the GPU tests of region selection (Otsu's and the components' Triton kernels against
#             OpenCV, the CUDA graph without host waits) and of packed attention (flash varlen)
#   pretrain  ViT-B/16 steps at batch 256, compiled: I-JEPA and DSeq-JEPA images/s, FLOP use
#             against the dense bf16 peak, region selection's share of a DSeq step and its kernels
#   runner    tools/train.py's Runner on real JPEGs against the bare step, syncs per iteration
#   data      the input pipeline per CPU core, and the GPU's nvJPEG decoding rate
#   dense_probes  a training iteration of the ADE20K and NYU linear probes against UperNet's at
#             512x512, time and peak memory
# Usage: bash tools/gpu_checks.sh [OUT_DIR]   (default work_dirs/gpu_checks; PYTHON=python3)
# It runs the checks with the Python it is given, the suite's dependencies installed there; the
# repository need not be installed (it is put on PYTHONPATH). A failing check does not stop the
# others; the exit status is the number of checks that failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/work_dirs/gpu_checks}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT" && OUT="$(cd "$OUT" && pwd)" || exit 1  # absolute: the checks run from $ROOT
cd "$ROOT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
failed=0

check() {  # check NAME COMMAND...: run it, keep its output in OUT/NAME.log, time it
  local name=$1 start=$SECONDS
  shift
  echo "== $name: $*"
  "$@" 2>&1 | tee "$OUT/$name.log"
  local status=${PIPESTATUS[0]}
  echo "== $name: exit $status after $((SECONDS - start)) s" | tee -a "$OUT/$name.log"
  [ "$status" -eq 0 ] || failed=$((failed + 1))
}

# without a GPU and Triton the tests below would pass by skipping what they are run for
check device "$PY" -c 'import subprocess, torch, triton
print("torch", torch.__version__, "triton", triton.__version__)
assert torch.cuda.is_available(), "no GPU visible to torch"
subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv"])'
check tests "$PY" -m pytest -q -p no:cacheprovider -rs tests/pretrain/test_regions.py \
  tests/backbones/test_packed.py
check pretrain "$PY" tools/benchmark_pretrain.py --arch b --batch 256 \
  --variants gathered-compiled dseq-prefix-compiled
check runner "$PY" tools/benchmark_pretrain.py --runner
check data "$PY" tools/benchmark_data.py
# the frozen dense probes against UperNet at the recipes' 512 crops, batch 2 per GPU, bf16
check dense_probes "$PY" tools/benchmark_dense_probes.py --size 512 --batch 2 --iters 10
exit "$failed"
