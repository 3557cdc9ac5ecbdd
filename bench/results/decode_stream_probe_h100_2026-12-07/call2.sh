#!/usr/bin/env bash
# The stream probe's slice arm at 1, 2, 4 and 8 splits (timed), then ncu over one eager
# run of every arm at D 64 and D 80 (Triton's _stream and our decode kernel), and the
# Triton kernels' cubins for their SASS.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
xz -dc .device/lib.so.xz > /tmp/lib.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so
export TRITON_CACHE_DIR=/tmp/tcache
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
timeout 200 python3 bench/probe_decode_stream.py --head-dims 80,32,64 --splits 4,1,2,8,16 --rounds 5 2>&1 | tee "$OUT/splits.txt"
for d in 80 64; do
  timeout 150 ncu --kernel-name regex:"_stream|decode_" \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy \
    --section LaunchStats --section WarpStateStats --section SchedulerStats \
    --metrics dram__sectors_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sector_op_read_hit_rate.pct,l1tex__t_requests_pipe_lsu_mem_global_op_ldgsts.sum,l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum,smsp__inst_executed.sum \
    python3 bench/probe_decode_stream.py --head-dims $d --splits 4,1 --once > "$OUT/ncu_d$d.txt" 2>&1
  echo "ncu D$d rc $?"
done
tar -C /tmp -cf "$OUT/tcache.tar" tcache 2>/dev/null; ls -la "$OUT"
