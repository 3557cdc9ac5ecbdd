#!/usr/bin/env bash
# KV heads a CTA so that each key's rows are whole 128-byte lines (no line shared
# between CTAs): D 80 G 1/2/4 with 4 heads (640 bytes a key, a warp a head, block_n 16),
# D 96 G 1/2/4 with 2 (384 bytes, block_n 32), D 32 G 8 with 2 (128 bytes, block_n 64);
# arm hA at 2 stages, hB at 4 / 3 / 3. Overlays of the landed sm_90 pack (base) through
# ATTN_PACK_DIR with this commit's library: the decode suite on D 32, 80, 96 for each,
# then interleaved rounds of the runtime's choice while GUARD seconds are left.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
. bench/results/decode_overlay.sh
overlay_arms .device/ov_h.tar.xz hA hB
for a in hA hB; do
  ATTN_PACK_DIR=/tmp/p/$a timeout 150 python3 test/gpu/test_decode.py --head-dims 32,80,96 --out "$OUT/test_decode_$a.md" > "$OUT/test_decode_$a.log" 2>&1
  echo "$a suite rc $? at $((SECONDS-start)) s"; tail -1 "$OUT/test_decode_$a.log"; grep "^FAIL" "$OUT/test_decode_$a.log" | cut -c1-200 | head -3
done
round=1
while [ $((SECONDS-start)) -lt ${GUARD:-300} ]; do
  for a in base hA hB; do
    ATTN_PACK_DIR=/tmp/p/$a timeout 100 python3 bench/sweep_decode_split_policy.py "$a r$round" --head-dims 80,96 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$a r$round failed" >> "$OUT/ab.txt"
    ATTN_PACK_DIR=/tmp/p/$a timeout 60 python3 bench/sweep_decode_split_policy.py "$a r$round" --head-dims 32 --groups 8 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$a r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done at $((SECONDS-start)) s"
  round=$((round+1))
done
grep -E "failed|Error" "$OUT/ab.txt" "$OUT/ab.log" | head
