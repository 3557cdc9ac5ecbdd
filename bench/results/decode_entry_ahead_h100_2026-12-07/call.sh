#!/usr/bin/env bash
# sm_90's tensor-core paged decode kernels (D 32-128) reading each tile's block_table entry
# one tile ahead of its copies (arm ea, an overlay of the landed pack, base) through
# ATTN_PACK_DIR with this commit's library: the decode suite on D 32-128, then
# interleaved rounds of the runtime's choice while GUARD seconds are left.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
. bench/results/decode_overlay.sh
overlay_arms .device/ov_ea.tar.xz ea
ATTN_PACK_DIR=/tmp/p/ea timeout 150 python3 test/gpu/test_decode.py --head-dims 32,64,80,96,128 --out "$OUT/test_decode_ea.md" > "$OUT/test_decode_ea.log" 2>&1
echo "ea suite rc $? at $((SECONDS-start)) s"; tail -1 "$OUT/test_decode_ea.log"; grep "^FAIL" "$OUT/test_decode_ea.log" | cut -c1-200 | head -3
round=1
while [ $((SECONDS-start)) -lt ${GUARD:-300} ]; do
  for a in base ea; do
    ATTN_PACK_DIR=/tmp/p/$a timeout 100 python3 bench/sweep_decode_split_policy.py "$a r$round" --head-dims 32,64,80,96,128 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$a r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done at $((SECONDS-start)) s"
  round=$((round+1))
done
grep -E "failed|Error" "$OUT/ab.txt" "$OUT/ab.log" | head
