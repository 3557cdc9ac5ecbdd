#!/usr/bin/env bash
# The combine kernel in groups of threads (abi::combineGroups: a group of the head_dim
# rounded up to whole warps for each run of 8 splits, at most 4) against the landed
# one-group combine. `bash bench/results/decode_combine_groups_h100_2026-12-07/call.sh`
# on a lent GPU with .device/base.so.xz (main before the change) and
# .device/groups.so.xz (main with it) carried. Stage 1: correctness (forced split
# counts 2-64 at every head dim on sm_90, and on sm_89's PTX, whose combine is
# launched without programmatic dependent launch; the decode and prefill suites on
# sm_90), with the combine's cost in a graph (bench/probe_combine_cost.py, both
# libraries) early; then the split-policy sweep's workloads at the runtime's split
# counts (G 2, two interleaved rounds) and bench_decode.py's (ours only), each
# step's output kept in $OUT as it goes.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
xz -dc .device/base.so.xz > /tmp/old.so
xz -dc .device/groups.so.xz > /tmp/new.so
export PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
check=bench/results/decode_combine_wide_h100_2026-12-07/check_splits.py
ATTN_LIB=/tmp/new.so timeout 60 python3 $check > "$OUT/check_sm_90.txt" 2>&1
echo "check_splits sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/check_sm_90.txt"
ATTN_LIB=/tmp/new.so timeout 90 python3 test/gpu/test_decode.py > "$OUT/test_decode.log" 2>&1
echo "test_decode sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/test_decode.log"
for lib in old new; do
  ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/probe_combine_cost.py --head-dims 80,128 2>&1 | grep -v -i warn | sed "s/^/$lib /" >> "$OUT/combine.txt"
done
echo "combine probe done ($SECONDS s)"
ATTN_LIB=/tmp/new.so ATTN_TARGET=sm_89 timeout 90 python3 $check > "$OUT/check_sm_89.txt" 2>&1
echo "check_splits sm_89 rc $? ($SECONDS s)"; tail -1 "$OUT/check_sm_89.txt"
ATTN_LIB=/tmp/new.so timeout 60 python3 test/gpu/test_prefill.py > "$OUT/test_prefill.log" 2>&1
echo "test_prefill sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/test_prefill.log"
for round in 1 2; do
  for lib in old new; do
    ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/sweep_decode_split_policy.py "$lib r$round" --head-dims 32,80,128,256 --groups 2 --runtime-only --rounds 1 >> "$OUT/ab.txt" 2>> /tmp/ab.log || echo "$lib r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done ($SECONDS s)"
done
for lib in old new; do
  ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/bench_decode.py --only-ours "$lib" >> "$OUT/bench.txt" 2>> /tmp/ab.log || echo "$lib failed" >> "$OUT/bench.txt"
done
grep -v "^$" "$OUT/combine.txt"
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab.txt" old,new
cat "$OUT/bench.txt"
echo "all done $SECONDS s"
