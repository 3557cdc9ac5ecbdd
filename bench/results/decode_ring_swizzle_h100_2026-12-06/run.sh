#!/usr/bin/env bash
# sp: the decode ring's last 2/4 chunks of a row swizzled by the row bits above those
# that repeat its bank group (D 80, 96, 160): decode suite, then interleaved A/B against
# the landed library's pack (1d7dbcb, the same library).
set -u
cd "$(dirname "$0")/.."
: "${OUT:?}"
xz -dc .device/new.so.xz > /tmp/new.so
mkdir -p /tmp/p/base /tmp/p/sp && tar -C /tmp/p/base -xJf .device/sm90.tar.xz && tar -C /tmp/p/sp -xJf .device/sm90.tar.xz && tar -C /tmp/p -xJf .device/sp.tar.xz
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/new.so ATTN_TARGET=sm_90
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
ATTN_PACK_DIR=/tmp/p/sp timeout 150 python3 test/gpu/test_decode.py --head-dims 80,96,160 --out "$OUT/test_decode_sp.md" > "$OUT/test_decode_sp.log" 2>&1; echo "sp decode rc $?"; tail -1 "$OUT/test_decode_sp.log"
for round in 1 2; do
  for p in base sp; do
    ATTN_PACK_DIR=/tmp/p/$p timeout 60 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims 80,96 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round failed" >> "$OUT/ab.txt"
    ATTN_PACK_DIR=/tmp/p/$p timeout 40 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims 160 --groups 4,8 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round 160 failed" >> "$OUT/ab.txt"
    echo "round $round $p done $(date +%T)"
  done
done
grep -E "failed|FAIL|correctness" "$OUT/ab.txt"
