#!/usr/bin/env bash
# The Python package's CPU tests (no GPU): makes build/pyvenv once (torch, numpy, pytest;
# the CPU wheel index where it is reachable, else PyPI's wheel), then runs pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=build/pyvenv
if ! "$venv/bin/python" -c "import numpy, pytest, torch" 2>/dev/null; then
  start=$(date +%s)
  python3 -m venv "$venv"
  pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
  "${pip[@]}" --retries 0 --timeout 10 torch --index-url https://download.pytorch.org/whl/cpu \
    2>/dev/null || "${pip[@]}" torch
  "${pip[@]}" numpy pytest
  echo "test/python: made $venv in $(( $(date +%s) - start )) s"
fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider test/python "$@"
