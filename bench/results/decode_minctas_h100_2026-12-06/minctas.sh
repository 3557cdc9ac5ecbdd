#!/usr/bin/env bash
# .minnctapersm on the decode kernels of D 80/96 (4), D 128 G 8 (3), D 32 G 8 (12):
# the decode suite on the variant pack, then interleaved A/B: shipped / rb / m4.
set -u
cd "$(dirname "$0")/.."
: "${OUT:?}"
xz -dc .device/head.so.xz > /tmp/head.so
for v in rb m4; do mkdir -p /tmp/p/$v && tar -C /tmp/p/$v -xJf .device/sm90.tar.xz && cp .device/minctas/$v/sm_90/* /tmp/p/$v/sm_90/; done
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/head.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
ATTN_TARGET=sm_90 ATTN_PACK_DIR=/tmp/p/m4 timeout 240 python3 test/gpu/test_decode.py --head-dims 32,80,96,128 --out "$OUT/test_decode_m4.md" > "$OUT/test_decode_m4.log" 2>&1; echo "m4 decode rc $?"; tail -2 "$OUT/test_decode_m4.log"; grep "^FAIL" "$OUT/test_decode_m4.log" | cut -c1-200 | head -5
for round in 1 2; do
  for p in ship rb m4; do
    (
      if [ $p != ship ]; then export ATTN_TARGET=sm_90 ATTN_PACK_DIR=/tmp/p/$p; fi
      timeout 150 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims 80,96 --runtime-only --rounds 3
      timeout 60 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims 32,128 --groups 8 --runtime-only --rounds 3
    ) >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round failed" >> "$OUT/ab.txt"
    echo "round $round $p done $(date +%T)"
  done
done
grep -E "failed|FAIL|correctness" "$OUT/ab.txt"
