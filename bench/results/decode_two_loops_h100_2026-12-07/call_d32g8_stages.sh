#!/usr/bin/env bash
# D 32 G 8 (tensor cores, 2 stages of 64 keys) at 3, 4 and 6 stages: the decode suite's
# D 32 cases on each, then interleaved A/B of the runtime's choice, ROUNDS rounds.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
[ -f /tmp/final.so ] || xz -dc .device/${LIB_:-final}.so.xz > /tmp/final.so
mkdir -p /tmp/p/base && tar -C /tmp/p/base -xJf .device/sm90_final.tar.xz
mkdir -p /tmp/ov && tar -C /tmp/ov -xJf .device/ov_stages.tar.xz
for s in ${ARMS_:-s3 s4 s6}; do cp -r /tmp/p/base /tmp/p/$s && cp /tmp/ov/$s/sm_90/* /tmp/p/$s/sm_90/; done
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/final.so ATTN_TARGET=sm_90
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for s in ${ARMS_:-s3 s4 s6}; do
  ATTN_PACK_DIR=/tmp/p/$s timeout 100 python3 test/gpu/test_decode.py --head-dims 32 --out "$OUT/test_decode_$s.md" > "$OUT/test_decode_$s.log" 2>&1; echo "$s decode rc $?"; tail -1 "$OUT/test_decode_$s.log"; grep "^FAIL" "$OUT/test_decode_$s.log" | cut -c1-200 | head -3
done
for round in $(seq 1 ${ROUNDS:-4}); do
  for p in base ${ARMS_:-s3 s4 s6}; do
    ATTN_PACK_DIR=/tmp/p/$p timeout 60 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims 32 --groups 8 --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done at $((SECONDS-start)) s"
done
