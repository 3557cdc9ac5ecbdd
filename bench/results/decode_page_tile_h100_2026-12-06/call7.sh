#!/usr/bin/env bash
# fast: the tensor-core decode kernels' paged copies with the tile's page looked up once
# (D 32/80/96/128): decode suite, then interleaved A/B against the landed pack (1d7dbcb,
# the same library). ROUNDS (default 1), TESTS (default 1).
set -u
cd "$(dirname "$0")/.."
: "${OUT:?}"
xz -dc .device/new.so.xz > /tmp/new.so
for p in base fast fast3; do mkdir -p /tmp/p/$p && tar -C /tmp/p/$p -xJf .device/sm90.tar.xz; done && tar -C /tmp/p -xJf .device/fast.tar.xz
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/new.so ATTN_TARGET=sm_90
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
if [ "${TESTS:-1}" = 1 ]; then
  ATTN_PACK_DIR=/tmp/p/fast timeout 240 python3 test/gpu/test_decode.py --head-dims 32,64,80,96,128 --out "$OUT/test_decode_fast.md" > "$OUT/test_decode_fast.log" 2>&1; echo "fast decode rc $?"; tail -1 "$OUT/test_decode_fast.log"; grep "^FAIL" "$OUT/test_decode_fast.log" | cut -c1-200 | head -5
fi
for round in $(seq 1 ${ROUNDS:-1}); do
  for p in ${ARMS:-base fast fast3}; do
    ATTN_PACK_DIR=/tmp/p/$p timeout 150 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims ${DIMS:-32,64,80,96,128} --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round failed" >> "$OUT/ab.txt"
    echo "round $round $p done $(date +%T)"
  done
done
cat "$OUT/ab.txt"
