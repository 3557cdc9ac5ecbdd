#!/usr/bin/env bash
# The first arm, not landed: the combine in whole warps with runs of 32 loads (new.so)
# against the landed one (old.so): correctness first (forced split counts 2-64 at every
# head dim, native sm_90 and sm_80 PTX through the JIT; the decode and prefill suites),
# then the combine's cost in a graph and an interleaved A/B of the runtime's choices.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
here=bench/results/decode_combine_wide_h100_2026-12-07
xz -dc .device/lib.so.xz > /tmp/old.so
xz -dc .device/new.so.xz > /tmp/new.so
export PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
ATTN_LIB=/tmp/new.so timeout 90 python3 $here/check_splits.py > "$OUT/check_sm90.txt" 2>&1; echo "check sm_90 rc $?"; tail -1 "$OUT/check_sm90.txt"
ATTN_LIB=/tmp/new.so ATTN_TARGET=sm_80 timeout 120 python3 $here/check_splits.py > "$OUT/check_sm80.txt" 2>&1; echo "check sm_80 rc $?"; tail -1 "$OUT/check_sm80.txt"
ATTN_LIB=/tmp/new.so timeout 200 python3 test/gpu/test_decode.py --out "$OUT/test_decode.md" > "$OUT/test_decode.log" 2>&1; echo "test_decode rc $?"; tail -1 "$OUT/test_decode.log"
ATTN_LIB=/tmp/new.so timeout 120 python3 test/gpu/test_prefill.py --out "$OUT/test_prefill.md" > "$OUT/test_prefill.log" 2>&1; echo "test_prefill rc $?"; tail -1 "$OUT/test_prefill.log"
echo "tests done $SECONDS s"
for lib in old new; do
  ATTN_LIB=/tmp/$lib.so timeout 60 python3 bench/probe_combine_cost.py --head-dims 80,128 2>&1 | grep -v -i warn | sed "s/^/$lib /" >> "$OUT/combine.txt"
done
cat "$OUT/combine.txt"
for round in 1 2; do
  for lib in old new; do
    ATTN_LIB=/tmp/$lib.so timeout 60 python3 bench/sweep_decode_split_policy.py "$lib r$round" --head-dims 80,128,160 --groups 2 --runtime-only --rounds 1 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$lib r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done $SECONDS s"
done
grep -E "failed|FAIL|correctness" "$OUT/ab.txt"
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab.txt" old,new | tee "$OUT/table.md"
