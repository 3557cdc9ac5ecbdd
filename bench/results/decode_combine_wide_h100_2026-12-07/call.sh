#!/usr/bin/env bash
# PREPARED, NOT RUN (2026-12-07: the session's device time ran out). Apply
# whole_warp_combine.patch, build (./scripts/build.sh or ninja -C build), xz
# build/lib/libattnrt.so into .device/final.so.xz, then run this.
# The combine change of whole_warp_combine.patch (D 80's combine in whole warps, 8 loads in flight as
# before; final.so) against the landed library (old.so), in the
# order of what matters if the device time runs out: forced split counts 2-64 at every
# head dim (native sm_90), the decode suite at D 80, the prefill suite, the combine's
# cost in a graph, sm_80 PTX through the JIT, an interleaved A/B, the whole decode
# suite.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
here=bench/results/decode_combine_wide_h100_2026-12-07
xz -dc .device/lib.so.xz > /tmp/old.so
xz -dc .device/final.so.xz > /tmp/final.so
export PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
ATTN_LIB=/tmp/final.so timeout 60 python3 $here/check_splits.py > "$OUT/check_sm90.txt" 2>&1; echo "check sm_90 rc $?"; tail -1 "$OUT/check_sm90.txt"
ATTN_LIB=/tmp/final.so timeout 60 python3 test/gpu/test_decode.py --head-dims 80 --out "$OUT/test_decode_d80.md" > "$OUT/test_decode_d80.log" 2>&1; echo "test_decode D80 rc $?"; tail -1 "$OUT/test_decode_d80.log"
ATTN_LIB=/tmp/final.so timeout 60 python3 test/gpu/test_prefill.py > "$OUT/test_prefill.log" 2>&1; echo "test_prefill rc $?"; tail -1 "$OUT/test_prefill.log"
echo "tests done $SECONDS s"
for lib in old final; do
  ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/probe_combine_cost.py --head-dims 80 2>&1 | grep -v -i warn | sed "s/^/$lib /" >> "$OUT/combine.txt"
done
cat "$OUT/combine.txt"
ATTN_LIB=/tmp/final.so ATTN_TARGET=sm_80 timeout 90 python3 $here/check_splits.py > "$OUT/check_sm80.txt" 2>&1; echo "check sm_80 rc $?"; tail -1 "$OUT/check_sm80.txt"
for round in 1 2; do
  for lib in old final; do
    ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/sweep_decode_split_policy.py "$lib r$round" --head-dims 80,128 --groups 2 --runtime-only --rounds 1 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$lib r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done $SECONDS s"
done
grep -E "failed|FAIL|correctness" "$OUT/ab.txt"
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab.txt" old,final | tee "$OUT/table.md"
ATTN_LIB=/tmp/final.so timeout 120 python3 test/gpu/test_decode.py --out "$OUT/test_decode.md" > "$OUT/test_decode.log" 2>&1; echo "test_decode rc $?"; tail -1 "$OUT/test_decode.log"
