#!/usr/bin/env bash
# sm_90's decode kernels of D 32, 80, 96 and 160 with each K/V row's 128-byte lines
# prefetched into L2 by the chunk copy that leads the line (arm pf, an overlay of the
# landed pack, base) through ATTN_PACK_DIR with this commit's library: the decode suite
# on those head dims, ncu's DRAM throughput of D 80 G 2 on 64 x 4096 on each arm, then
# interleaved rounds of the runtime's choice while GUARD seconds are left.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
. bench/results/decode_overlay.sh
overlay_arms .device/ov_pf.tar.xz pf
ATTN_PACK_DIR=/tmp/p/pf timeout 150 python3 test/gpu/test_decode.py --head-dims 32,80,96,160 --out "$OUT/test_decode_pf.md" > "$OUT/test_decode_pf.log" 2>&1
echo "pf suite rc $? at $((SECONDS-start)) s"; tail -1 "$OUT/test_decode_pf.log"; grep "^FAIL" "$OUT/test_decode_pf.log" | cut -c1-200 | head -3
for a in base pf; do
  ATTN_PACK_DIR=/tmp/p/$a timeout 90 ncu --launch-skip 1 --launch-count 1 -k regex:'paged_causal$' --metrics dram__bytes_read.sum,lts__t_sector_op_read_hit_rate.pct,gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed python3 bench/results/decode_d80_stride_h100_2026-12-07/stride_probe.py --ncu d80 > "$OUT/ncu_d80_$a.txt" 2>&1
  echo "ncu $a rc $?"; grep -E "dram__|lts__|gpu__time" "$OUT/ncu_d80_$a.txt"
done
round=1
while [ $((SECONDS-start)) -lt ${GUARD:-300} ]; do
  for a in base pf; do
    ATTN_PACK_DIR=/tmp/p/$a timeout 100 python3 bench/sweep_decode_split_policy.py "$a r$round" --head-dims 32,80,96,160 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$a r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done at $((SECONDS-start)) s"
  round=$((round+1))
done
grep -E "failed|Error" "$OUT/ab.txt" "$OUT/ab.log" | head
