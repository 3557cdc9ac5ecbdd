#!/usr/bin/env bash
# The landed library (D 80 decode copies as a run): decode suite on D 80, the API suite,
# then interleaved A/B of D 80 decode against HEAD's library (a556bfd).
set -u
cd "$(dirname "$0")/.."
: "${OUT:?}"
xz -dc .device/head.so.xz > /tmp/head.so; xz -dc .device/new.so.xz > /tmp/new.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
ATTN_LIB=/tmp/new.so timeout 200 python3 test/gpu/test_decode.py --head-dims 80 --out "$OUT/test_decode_d80.md" > "$OUT/test_decode_d80.log" 2>&1; echo "decode rc $?"; tail -1 "$OUT/test_decode_d80.log"
ATTN_LIB=/tmp/new.so timeout 240 python3 test/gpu/test_api.py --backend attn --out "$OUT/test_api.md" > "$OUT/test_api.log" 2>&1; echo "api rc $?"; tail -1 "$OUT/test_api.log"
for round in 1 2; do
  for p in head new; do
    ATTN_LIB=/tmp/$p.so timeout 100 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims 80 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round failed" >> "$OUT/ab.txt"
    echo "round $round $p done $(date +%T)"
  done
done
grep -E "failed|FAIL|correctness" "$OUT/ab.txt"
