#!/usr/bin/env bash
# Where decode loses on the GPU at hand, with main's library (.device/main.so.xz,
# 0697cc1): nano-vllm's graph buckets against the split count, ncu on the G 2 decode
# kernels of D 32, 80 and 96 (64 x 4096), the host time per call, and every head dim
# at G 2 against the split count (timings kept for a fit).
# `OUT=... bash bench/results/decode_h200_policy_2026-12-07/call.sh` on a lent GPU.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
xz -dc .device/main.so.xz > /tmp/main.so
export ATTN_LIB=/tmp/main.so PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$OUT/gpu.txt"
timeout 150 python3 bench/sweep_graph_buckets.py --out "$OUT" > /tmp/buckets.log 2>&1
echo "buckets rc $? ($SECONDS s)"
for d in 32 80 96; do
  timeout 60 ncu --kernel-name regex:'attn_decode_bf16.*causal$' --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    --section SchedulerStats --section InstructionStats --section MemoryWorkloadAnalysis_Tables \
    python3 bench/ncu_decode.py $d 2 >> "$OUT/ncu_g2.txt" 2>&1
  echo "ncu D $d rc $? ($SECONDS s)"
done
timeout 100 python3 bench/bench_host.py --out "$OUT" > "$OUT/host.txt" 2>&1
echo "host rc $? ($SECONDS s)"; grep -E "prefill|decode" "$OUT/host.txt" | head -8
timeout $((570 - SECONDS)) python3 bench/sweep_decode_split_policy.py g2 --groups 2 --rounds 2 --json "$OUT/split_g2.json" > "$OUT/split_g2.txt" 2>&1
echo "split sweep rc $? ($SECONDS s)"; tail -5 "$OUT/split_g2.txt"
echo "all done $SECONDS s"
