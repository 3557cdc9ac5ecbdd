#!/usr/bin/env bash
# ncu stall sampling (SASS, per instruction) of the landed tensor-core decode kernels
# D 80 G 2, D 96 G 2 and D 128 G 4 on 64 x 4096 (stall_probe.py).
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
here=bench/results/decode_d80_stride_h100_2026-12-07
[ -f /tmp/lib.so ] || xz -dc .device/lib.so.xz > /tmp/lib.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so
for dg in "80 2" "96 2" "128 4"; do
  set -- $dg
  timeout 100 ncu --launch-skip 1 --launch-count 1 -k regex:'paged_causal$' --section WarpStateStats --section SchedulerStats --section Occupancy --section SourceCounters --page source --print-source sass --csv python3 $here/stall_probe.py $1 $2 > "$OUT/sass_d$1_g$2.csv" 2>&1
  echo "D$1 G$2 rc $?"
  timeout 100 ncu --launch-skip 1 --launch-count 1 -k regex:'paged_causal$' --section WarpStateStats --section SchedulerStats --section Occupancy --section SpeedOfLight python3 $here/stall_probe.py $1 $2 > "$OUT/ncu_d$1_g$2.txt" 2>&1
  grep -E "Duration|DRAM Throughput|Eligible Warps|No Eligible|Achieved Occupancy|Registers|Stall Long|Stall Barrier|Stall Wait" "$OUT/ncu_d$1_g$2.txt" | head -12
done
