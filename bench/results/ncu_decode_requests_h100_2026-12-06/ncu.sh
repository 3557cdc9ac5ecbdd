#!/usr/bin/env bash
set -u
cd "$(dirname "$0")/.."
: "${OUT:?}"
xz -dc .device/head.so.xz > /tmp/head.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/head.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 .device/opprobe.py 2>&1 | tee "$OUT/opprobe.txt"
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1 || ls /usr/local/cuda/bin/ncu)
for dg in "64 2" "80 2" "96 2" "128 2"; do
  set -- $dg
  timeout 120 "$ncu" --kernel-name regex:attn_decode --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section MemoryWorkloadAnalysis_Tables --section WarpStateStats --section SchedulerStats \
    --metrics lts__t_requests_srcunit_tex_op_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,dram__bytes_read.sum,l1tex__t_requests_pipe_lsu_mem_global_op_ldgsts.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_ldgsts.sum,smsp__pcsamp_warps_issue_stalled_long_scoreboard,smsp__average_warp_latency_issue_stalled_long_scoreboard,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_barrier_per_warp_active.pct,smsp__warp_issue_stalled_lg_throttle_per_warp_active.pct,smsp__warp_issue_stalled_wait_per_warp_active.pct,smsp__warp_issue_stalled_short_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_math_pipe_throttle_per_warp_active.pct,lts__t_sector_hit_rate.pct \
    python3 bench/ncu_decode.py $1 $2 > "$OUT/ncu_d$1.txt" 2>&1
  echo "d$1 rc $?"
done
