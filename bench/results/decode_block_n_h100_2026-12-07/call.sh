#!/usr/bin/env bash
# sm_90's tensor-core decode kernels of D 32-96 at block_n 128 (arm n128) and D 32 G 8 at
# 3 and 4 stages (s3, s4), each an overlay of the landed sm_90 pack (base) read through
# ATTN_PACK_DIR with this commit's library: the decode suite on each arm's head dims,
# then interleaved rounds of the runtime's choice (sweep_decode_split_policy.py
# --runtime-only) while GUARD seconds are left.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
. bench/results/decode_overlay.sh
overlay_arms .device/ov.tar.xz n128 s3 s4
python3 -c "import torch; print(torch.__version__)" | tee -a "$OUT/gpu.txt"
suite() {  # arm head_dims
  ATTN_PACK_DIR=/tmp/p/$1 timeout 150 python3 test/gpu/test_decode.py --head-dims $2 --out "$OUT/test_decode_$1.md" > "$OUT/test_decode_$1.log" 2>&1
  echo "$1 suite rc $? at $((SECONDS-start)) s"; tail -1 "$OUT/test_decode_$1.log"; grep "^FAIL" "$OUT/test_decode_$1.log" | cut -c1-200 | head -3
}
suite n128 32,64,80,96
suite s3 32
suite s4 32
round=1
while [ $((SECONDS-start)) -lt ${GUARD:-420} ]; do
  for a in base n128; do
    ATTN_PACK_DIR=/tmp/p/$a timeout 100 python3 bench/sweep_decode_split_policy.py "$a r$round" --head-dims 64,80,96 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$a r$round failed" >> "$OUT/ab.txt"
  done
  for a in base n128 s3 s4; do
    ATTN_PACK_DIR=/tmp/p/$a timeout 60 python3 bench/sweep_decode_split_policy.py "$a r$round" --head-dims 32 --groups 8 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$a r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done at $((SECONDS-start)) s"
  round=$((round+1))
done
grep -E "failed|correctness|Error" "$OUT/ab.txt" "$OUT/ab.log" | head
