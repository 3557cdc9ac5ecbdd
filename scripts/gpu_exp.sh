#!/usr/bin/env bash
# gpu-exp branch only: the measurements that decide what of this branch goes to
# main, in one device call from the repository root. Carry .device/ with
#   .device/base.so.xz  main's libattnrt.so (xz)
#   .device/exp.so.xz   this branch's libattnrt.so (xz)
#   .device/packs/      sm_90a D 128 packs built here with this branch's attn-pack:
#                         tma/      attn-pack --target=sm_90a --head-dims 128
#                         cpasync/  ... --tma=false
#                         noload/   ATTN_EXP_NOLOAD=1 ... --tma=false
#                         noexp/    ATTN_EXP_NOEXP=1 ...
#                         both/     ATTN_EXP_NOLOAD=1 ATTN_EXP_NOEXP=1 ... --tma=false
#                       each with sm_90/manifest.txt a header alone (the runtime
#                       reads sm_90a over it).
# Phases (PHASES, default "check ab bounds"):
#   check   the decode and prefill suites on the branch's library (its sm_90 combine
#           kernels wait by griddepcontrol and launch programmatically; its sm_90a
#           consumers fence only after cp.async tiles)
#   ab      main's library against the branch's, interleaved: decode (bench_decode
#           --only-ours) and prefill (scripts/gpu_prefill_ab.sh), AB_ROUNDS rounds
#   bounds  what the copies and the ex2s cost the sm_90a prefill (wrong results by
#           design: only the times count), on workloads a, b, h, i
# Writes $OUT/*.md.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD/python:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
for name in base exp; do
  xz -dc ".device/$name.so.xz" > "/tmp/$name.so"
done
phases=${PHASES:-check ab bounds}
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)

if [[ " $phases " == *" check "* ]]; then
  for suite in test_decode test_prefill; do
    ATTN_LIB=/tmp/exp.so timeout 280 python3 -m pytest -q -x "test/gpu/$suite.py" \
      2>&1 | tail -5 | tee "$OUT/${suite}_exp.txt"
  done
fi

if [[ " $phases " == *" ab "* ]]; then
  report=$OUT/decode_ab_exp.md
  printf '# Decode A/B (main, gpu-exp), %s, %s\n\n| build | workload | time | error |\n|---|---|---|---|\n' \
    "$gpu" "$(date -u +%F)" > "$report"
  for round in $(seq 1 "${AB_ROUNDS:-2}"); do
    for name in base exp; do
      ATTN_LIB=/tmp/$name.so python3 bench/bench_decode.py --only-ours "$name r$round" \
        | tee -a "$report"
    done
  done
  OUT=$OUT/prefill AB_WORKLOADS=${AB_WORKLOADS:-abfghi} \
    bash scripts/gpu_prefill_ab.sh base=/tmp/base.so exp=/tmp/exp.so
fi

if [[ " $phases " == *" bounds "* ]]; then
  specs=()
  for pack in tma cpasync noload noexp both; do
    specs+=("$pack=/tmp/exp.so@$PWD/.device/packs/$pack")
  done
  OUT=$OUT/bounds AB_WORKLOADS=abhi bash scripts/gpu_prefill_ab.sh "${specs[@]}"
fi
