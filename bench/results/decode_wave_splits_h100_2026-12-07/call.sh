#!/usr/bin/env bash
# Split counts that are not powers of two (the runtime's policy takes powers of two only):
# sweep_decode_kv_heads.py forcing 2-12 splits on the landed library (lib.so), bf16, page
# 256, two passes.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
xz -dc .device/lib.so.xz > /tmp/lib.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for pass in 1 2; do
  for dg in "80 2,4" "96 2,4" "32 8" "128 2"; do
    set -- $dg
    timeout 120 python3 bench/sweep_decode_kv_heads.py "p$pass" --pages 256 --head-dims $1 --groups $2 --splits 0,2,3,4,5,6,8,12 >> "$OUT/splits.txt" 2>> "$OUT/splits.log"
    echo "pass $pass D$1 rc $? at $((SECONDS-start)) s"
  done
done
grep -E "FAIL|correctness" "$OUT/splits.txt" | sort | uniq -c | head
