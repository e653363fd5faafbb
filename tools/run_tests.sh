#!/usr/bin/env bash
# Install the suite into .venv (idempotent), lint it (ruff with pyproject.toml's rules, then
# tools/check_shape.py: function length, private names, package layers) and run the test suite on
# CPU: every test, the slow ones (real training runs, torch.compile, ViT-B at 1024) included. Extra
# args go to pytest, e.g.
#   bash tools/run_tests.sh -m "not slow"   # the fast tier
#   bash tools/run_tests.sh tests/pretrain  # one package's tests
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
"$ROOT/.venv/bin/ruff" check .
"$ROOT/.venv/bin/python" tools/check_shape.py
exec "$ROOT/.venv/bin/python" -m pytest "$@"
