#!/usr/bin/env bash
# On the GPU machine, from the repository root: times every candidate pack of the
# attn-tune bundle build/tune_bundle (compiled here by `attn-tune --target sm_90`) on
# the benchmark workloads with bench/tune_harness.py. Writes $OUT/timings.json (bring
# it back and run `attn-tune --ingest`) and the log. Resumes from $OUT/timings.json or
# build/tune_bundle/timings.json when one exists. Needs build/lib/libattnrt.so
# ($ATTN_LIB overrides) and, for torch's absent wheels, .whl/ as gpu_check.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the timings and the log}"
bundle=${BUNDLE:-build/tune_bundle}
[ -d "$bundle" ] || [ -n "${BUNDLE:-}" ] || bundle=build-tune/tune_bundle
mkdir -p "$OUT"
[ -f "$bundle/candidates.json" ] || { echo "gpu_tune: no $bundle/candidates.json" >&2; exit 1; }

if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export ATTN_LIB="${ATTN_LIB:-$PWD/build/lib/libattnrt.so}"
export PYTHONPATH="$PWD/python:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

if [ ! -f "$OUT/timings.json" ] && [ -f "$bundle/timings.json" ]; then
  cp "$bundle/timings.json" "$OUT/timings.json"
fi
python3 bench/tune_harness.py "$bundle" --out "$OUT/timings.json" 2>&1 | tee "$OUT/tune_harness.log"
