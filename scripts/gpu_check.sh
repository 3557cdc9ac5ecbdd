#!/usr/bin/env bash
# On the GPU machine, from the repository root: the decode and prefill correctness
# suites ($SUITES) for the sm_90a, sm_90, sm_89 and sm_80 kernels ($TARGETS; the
# last two JIT-compiled from PTX on an H100; $SUITE_ARGS goes to each suite, e.g.
# "--head-dims 32,80,96,160,192,256"), then the decode and prefill benchmarks ($BENCHES, default "prefill decode")
# and the decode kernel profile; benchmark results go to $OUT, the suites' reports
# and every log to $OUT/logs.tgz (few files come back from a lent machine).
# Usage: scripts/gpu_check.sh [tests|bench|profile|all|ncu] (default all; ncu, not in
# all: Nsight Compute on the prefill kernel of the bench_prefill workloads
# $NCU_WORKLOADS, default "d e", and the SASS of the cubins in $SASS_DIR). Needs the
# runtime library ($ATTN_LIB, default build/lib/libattnrt.so, which holds the pack;
# $ATTN_PACK_DIR, when set, replaces it), and for the plots the wheels in .whl/plot/
# where matplotlib is missing; the Triton decode peer is read from third_party/peers/.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the logs and results}"
what=${1:-all}
mkdir -p "$OUT"
logs=$(mktemp -d)/logs
mkdir -p "$logs"
trap 'tar czf "$OUT/logs.tgz" -C "$(dirname "$logs")" logs' EXIT

if [ -d .whl/plot ]; then
  python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/plot/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export ATTN_LIB="${ATTN_LIB:-$PWD/build/lib/libattnrt.so}"
export PYTHONPATH="$PWD/python:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi

status=0
if [ "$what" = all ] || [ "$what" = tests ]; then
  for suite in ${SUITES:-prefill decode}; do
    for target in ${TARGETS:-sm_90a sm_90 sm_89 sm_80}; do
      echo "== test_$suite.py, ATTN_TARGET=$target"
      # shellcheck disable=SC2086 # SUITE_ARGS is a list of arguments
      ATTN_TARGET=$target python3 "test/gpu/test_$suite.py" ${SUITE_ARGS:-} \
        --out "$logs/test_${suite}_$target.md" 2>&1 | tee "$logs/test_${suite}_$target.log" \
        || status=1
    done
  done
fi
if [ "$what" = all ] || [ "$what" = bench ]; then
  for bench in ${BENCHES:-prefill decode}; do
    echo "== bench_$bench.py"
    python3 "bench/bench_$bench.py" --out "$OUT" 2>&1 | tee "$logs/bench_$bench.log" || status=1
  done
fi
if [ "$what" = all ] || [ "$what" = profile ]; then
  echo "== profile_decode.py"
  python3 bench/profile_decode.py --out "$OUT/profile_decode.md" --splits 0,16,32,64 \
    2>&1 | tee "$logs/profile_decode.log" || status=1
fi
if [ "$what" = ncu ]; then
  ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu | head -1)
  for w in ${NCU_WORKLOADS:-d e}; do
    echo "== ncu, prefill workload ($w)"
    "$ncu" --clock-control none -k regex:attn_prefill --launch-skip 2 --launch-count 1 \
      --section SpeedOfLight --section Occupancy --section LaunchStats \
      --section WarpStateStats --section SchedulerStats --section InstructionStats \
      --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
      --section SourceCounters \
      --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio" \
      python3 bench/profile_prefill.py "$w" > "$logs/ncu_prefill_$w.txt" 2>&1 || status=1
    tail -5 "$logs/ncu_prefill_$w.txt"
  done
  for cubin in "${SASS_DIR:-/nonexistent}"/*.cubin; do
    [ -e "$cubin" ] || continue
    cuobjdump --dump-sass "$cubin" > "$logs/sass_$(basename "$cubin" .cubin).txt" || status=1
  done
fi
exit "$status"
