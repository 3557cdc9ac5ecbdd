#!/usr/bin/env bash
# The two-loop library (final.so) through the prefill, API, thread and context suites.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
xz -dc .device/final.so.xz > /tmp/final.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/final.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for s in test_prefill test_api test_threads test_contexts; do
  timeout ${T:-200} python3 test/gpu/$s.py --out "$OUT/$s.md" > "$OUT/$s.log" 2>&1; echo "$s rc $? at $((SECONDS-start)) s"; tail -2 "$OUT/$s.log"; grep -E "FAIL" "$OUT/$s.log" | cut -c1-200 | head -5
done
