#!/usr/bin/env bash
# Install the suite into .venv (idempotent) and run the test suite on CPU: every test, the slow
# ones (real training runs, torch.compile, ViT-B at 1024) included. Extra args go to pytest, e.g.
#   bash tools/run_tests.sh -m "not slow"   # the fast tier, about a minute on 2 cores
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
