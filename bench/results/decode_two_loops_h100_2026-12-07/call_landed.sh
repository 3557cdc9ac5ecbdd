#!/usr/bin/env bash
# The landed library (land.so): decode suite D 32-128 and the API suite; then
# call_d32g8_stages.sh (D 32 G 8 at 3, 4 and 6 stages).
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
xz -dc .device/land.so.xz > /tmp/land.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1
for s in test_decode test_api; do
  a=""; [ $s = test_decode ] && a="--head-dims 32,64,80,96,128"
  ATTN_LIB=/tmp/land.so timeout 150 python3 test/gpu/$s.py $a --out "$OUT/land_$s.md" > "$OUT/land_$s.log" 2>&1; echo "land $s rc $? at $((SECONDS-start)) s"; tail -1 "$OUT/land_$s.log"; grep "^FAIL" "$OUT/land_$s.log" | cut -c1-200 | head -3
done
cp /tmp/land.so /tmp/final.so; mkdir -p "$OUT/st"; OUT="$OUT/st" ROUNDS=${ROUNDS:-4} bash bench/results/decode_two_loops_h100_2026-12-07/call_d32g8_stages.sh
