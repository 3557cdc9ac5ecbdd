#!/usr/bin/env bash
# Two-loop branch (final.so) against 1de1966 (head2.so): decode suite on D 32-128, then
# interleaved A/B rounds of the decode kernels while time is left; PART=jit: the sm_80 and
# sm_89 decode suites by PTX JIT on the final library.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
xz -dc .device/final.so.xz > /tmp/final.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch; print(torch.__version__)" | tee -a "$OUT/gpu.txt"
case "${PART:-all}" in
all)
  ATTN_LIB=/tmp/final.so timeout ${SUITE_T:-200} python3 test/gpu/test_decode.py --head-dims ${SUITE_DIMS:-32,64,80,96,128} --out "$OUT/test_decode.md" > "$OUT/test_decode.log" 2>&1; echo "decode rc $? $(date +%T) at $((SECONDS-start)) s"; tail -1 "$OUT/test_decode.log"; grep "^FAIL" "$OUT/test_decode.log" | cut -c1-200 | head -5
  xz -dc .device/head2.so.xz > /tmp/head.so
  round=1
  while [ $((SECONDS-start)) -lt ${GUARD:-200} ]; do
    for lib in head final; do
      ATTN_LIB=/tmp/$lib.so timeout 110 python3 bench/sweep_decode_split_policy.py "$lib r$round" --head-dims ${DIMS:-32,64,80,96,128} --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$lib r$round failed" >> "$OUT/ab.txt"
      echo "round $round $lib done at $((SECONDS-start)) s"
    done
    round=$((round+1))
  done
  grep -E "failed|correctness" "$OUT/ab.txt" | head
  ;;
jit)
  for t in sm_80 sm_89; do
    ATTN_LIB=/tmp/final.so ATTN_TARGET=$t timeout 270 python3 test/gpu/test_decode.py --head-dims ${JIT_DIMS:-32,64,128} --out "$OUT/test_decode_$t.md" > "$OUT/test_decode_$t.log" 2>&1; echo "$t decode rc $? at $((SECONDS-start)) s"; tail -1 "$OUT/test_decode_$t.log"; grep "^FAIL" "$OUT/test_decode_$t.log" | cut -c1-200 | head -5
  done
  ;;
esac
