#!/usr/bin/env bash
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
xz -dc .device/final.so.xz > /tmp/final.so
export ATTN_LIB=/tmp/final.so PYTHONUNBUFFERED=1
which ncu
for dg in "64 4" "80 4" "96 4" "128 4" "32 4" "32 8"; do
  set -- $dg
  timeout 120 ncu --launch-skip 4 --launch-count 2 --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section LaunchStats --section SchedulerStats --section SourceCounters python3 bench/results/decode_two_loops_h100_2026-12-07/ncu_d.py $1 $2 > "$OUT/ncu_d$1_g$2.txt" 2>&1
  echo "D$1 G$2 rc $?"; grep -E "Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Grid Size|Block Size" "$OUT/ncu_d$1_g$2.txt" | head -14
done
