#!/usr/bin/env bash
# This commit's library (lib.so, the landed main): the decode suite (every head dim) and
# the API suite; stride_probe.py (D 80 over 80/96/128-element head pitches) with ncu's
# DRAM bytes for two of its arms; ncu sections for the sm_90a prefill on workload (h).
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
here=bench/results/decode_d80_stride_h100_2026-12-07
xz -dc .device/lib.so.xz > /tmp/lib.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch; print(torch.__version__)" | tee -a "$OUT/gpu.txt"
timeout 120 python3 $here/stride_probe.py ${ROUNDS:-7} > "$OUT/stride.txt" 2>&1; echo "stride rc $? at $((SECONDS-start)) s"; cat "$OUT/stride.txt"
for a in d80 d80_p96 d96; do
  timeout 90 ncu --launch-skip 1 --launch-count 1 -k regex:attn_decode --metrics dram__bytes_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sector_op_read_hit_rate.pct,gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed python3 $here/stride_probe.py --ncu $a > "$OUT/ncu_$a.txt" 2>&1
  echo "ncu $a rc $?"; grep -E "dram__|lts__|gpu__time" "$OUT/ncu_$a.txt"
done
timeout 150 ncu --launch-skip 1 --launch-count 1 -k regex:attn_prefill --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables --section WarpStateStats --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,l1tex__data_bank_reads.avg.pct_of_peak_sustained_elapsed,l1tex__data_bank_writes.avg.pct_of_peak_sustained_elapsed,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,smsp__inst_executed_pipe_uniform.sum python3 $here/ncu_prefill.py > "$OUT/ncu_prefill_h.txt" 2>&1
echo "ncu prefill rc $? at $((SECONDS-start)) s"; grep -E "gmma|bank_|Shared|L1/TEX Cache|Duration|Compute \(SM\)|Memory Throughput" "$OUT/ncu_prefill_h.txt" | head -30
for s in test_decode test_api; do
  timeout 200 python3 test/gpu/$s.py --out "$OUT/$s.md" > "$OUT/$s.log" 2>&1; echo "$s rc $? at $((SECONDS-start)) s"; tail -1 "$OUT/$s.log"; grep "^FAIL" "$OUT/$s.log" | cut -c1-200 | head -3
done
