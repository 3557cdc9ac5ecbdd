#!/usr/bin/env bash
# After call.sh: stride_probe.py again (its float64 check fixed), ncu's DRAM bytes for the
# decode kernel itself (not its combine), and the sm_90a prefill's source counters and
# instruction mix on workload (h).
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
here=bench/results/decode_d80_stride_h100_2026-12-07
[ -f /tmp/lib.so ] || xz -dc .device/lib.so.xz > /tmp/lib.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
timeout 150 python3 $here/stride_probe.py ${ROUNDS:-7} > "$OUT/stride.txt" 2>&1; echo "stride rc $? at $((SECONDS-start)) s"; cat "$OUT/stride.txt"
for a in d80 d80_p96 d80_p128 d96; do
  timeout 90 ncu --launch-skip 1 --launch-count 1 -k regex:'paged_causal$' --metrics dram__bytes_read.sum,lts__t_sectors_srcunit_tex_op_read.sum,lts__t_sector_op_read_hit_rate.pct,gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__grid_size python3 $here/stride_probe.py --ncu $a > "$OUT/ncu_$a.txt" 2>&1
  echo "ncu $a rc $?"; grep -E "paged_causal|dram__|lts__|gpu__time|grid_size" "$OUT/ncu_$a.txt"
done
timeout 200 ncu --launch-skip 1 --launch-count 1 -k regex:attn_prefill --section SourceCounters --section InstructionStats --section WarpStateStats --import-source no --print-details all python3 $here/ncu_prefill.py > "$OUT/ncu_prefill_h_source.txt" 2>&1
echo "ncu prefill rc $? at $((SECONDS-start)) s"
timeout 200 ncu --launch-skip 1 --launch-count 1 -k regex:attn_prefill --section SourceCounters --page source --print-source sass --csv python3 $here/ncu_prefill.py > "$OUT/ncu_prefill_h_sass.csv" 2>&1
echo "ncu sass rc $? at $((SECONDS-start)) s"; ls -la "$OUT"
