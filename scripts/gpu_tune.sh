#!/usr/bin/env bash
# On the GPU machine, from the repository root: times every candidate pack of an
# attn-tune bundle (compiled here by `attn-tune --target sm_90 --space gpu`) on its
# workloads with bench/tune_harness.py, kernels first, then the split policies with
# the fastest decode kernel. Writes $OUT/timings.json (bring it back and run
# `attn-tune --ingest`) and the log. $BUNDLE picks the bundle (default
# build-tune/tune_bundle_v2, else build/tune_bundle). Resumes from $OUT/timings.json
# or $BUNDLE/timings.json when one exists. Starts no candidate that would end after
# $TUNE_DEADLINE seconds (default 540) and then exits with status 3: copy
# $OUT/timings.json to $BUNDLE/timings.json and run it again. Needs
# build/lib/libattnrt.so ($ATTN_LIB overrides); installs .whl/plot/ when carried, as
# gpu_check.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the timings and the log}"
bundle=${BUNDLE:-build-tune/tune_bundle_v2}
[ -d "$bundle" ] || [ -n "${BUNDLE:-}" ] || bundle=build/tune_bundle
mkdir -p "$OUT"
[ -f "$bundle/candidates.json" ] || { echo "gpu_tune: no $bundle/candidates.json" >&2; exit 1; }
python3 bench/tune_harness.py "$bundle" --check

if [ -d .whl/plot ]; then
  python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/plot/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export ATTN_LIB="${ATTN_LIB:-$PWD/build/lib/libattnrt.so}"
export PYTHONPATH="$PWD/python:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

if [ ! -f "$OUT/timings.json" ] && [ -f "$bundle/timings.json" ]; then
  cp "$bundle/timings.json" "$OUT/timings.json"
fi
python3 bench/tune_harness.py "$bundle" --out "$OUT/timings.json" \
  --deadline "${TUNE_DEADLINE:-540}" 2>&1 | tee -a "$OUT/tune_harness.log"
