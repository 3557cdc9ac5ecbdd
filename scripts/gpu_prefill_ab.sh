#!/usr/bin/env bash
# On the GPU machine, from the repository root: our prefill kernels from two runtime
# libraries side by side on bench_prefill.py's workloads (--only-ours: attn alone,
# one row per workload), the libraries interleaved for $AB_ROUNDS rounds (default 2),
# so that a change to the kernels is measured against its base in one call. Each
# library is a path or an .xz of one (unpacked to /tmp), optionally followed by
# @PACK_DIR: a kernel pack directory that replaces the library's (ATTN_PACK_DIR), so
# that kernels built with `attn-pack --target=...` are compared without rebuilding
# the library.
#
#   OUT=results bash scripts/gpu_prefill_ab.sh LABEL=LIB[@PACK_DIR] [...]
#
# Prints and writes $OUT/prefill_ab.md (rows as bench_prefill.py --only-ours gives
# them, label "LABEL rN"); $AB_WORKLOADS picks workloads (e.g. "bh"; default all).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the results}"
[ $# -gt 0 ] || { echo "usage: OUT=dir $0 LABEL=LIB [LABEL=LIB ...]" >&2; exit 2; }
mkdir -p "$OUT"
export PYTHONPATH="$PWD/python:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
labels=() libs=() packs=()
for spec in "$@"; do
  label=${spec%%=*} lib=${spec#*=} pack=
  if [[ $lib == *@* ]]; then
    pack=${lib#*@} lib=${lib%%@*}
  fi
  if [[ $lib == *.xz ]]; then
    xz -dc "$lib" > "/tmp/ab_$label.so"
    lib=/tmp/ab_$label.so
  fi
  labels+=("$label") libs+=("$lib") packs+=("$pack")
done
report=$OUT/prefill_ab.md
{
  echo "# Prefill A/B, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader), $(date -u +%F)"
  echo
  echo "| build | workload | time | TFLOP/s | error |"
  echo "|---|---|---|---|---|"
} > "$report"
workloads=()
[ -n "${AB_WORKLOADS:-}" ] && workloads=(--workloads "$AB_WORKLOADS")
for round in $(seq 1 "${AB_ROUNDS:-2}"); do
  for i in "${!labels[@]}"; do
    ATTN_LIB=${libs[$i]} ATTN_PACK_DIR=${packs[$i]} python3 bench/bench_prefill.py --only-ours "${labels[$i]} r$round" \
      "${workloads[@]}" | tee -a "$report"
  done
done
