#!/usr/bin/env bash
# The decode kernels with attn.pv_acc (P V accumulated onto the rescaled acc)
# and, on tensor cores, the acc's rescale skipped by a warp whose rows all keep
# their max, against main before it. `OUT=... bash
# bench/results/decode_rescale_skip_2026-12-07/call.sh` on a lent GPU with
# .device/main.so.xz (0697cc1) and .device/skip.so.xz (the change) carried.
# Correctness first (forced split counts 2-64 at every head dim, the decode
# suite), then an interleaved A/B at the runtime's split counts, each step's
# output kept in $OUT as it goes.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
xz -dc .device/main.so.xz > /tmp/old.so
xz -dc .device/skip.so.xz > /tmp/new.so
export PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
check=bench/results/decode_combine_wide_h100_2026-12-07/check_splits.py
ATTN_LIB=/tmp/new.so timeout 70 python3 $check > "$OUT/check_sm_90.txt" 2>&1
echo "check_splits sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/check_sm_90.txt"
ATTN_LIB=/tmp/new.so timeout 100 python3 test/gpu/test_decode.py > "$OUT/test_decode.log" 2>&1
echo "test_decode sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/test_decode.log"
for round in 1 2; do
  for lib in old new; do
    ATTN_LIB=/tmp/$lib.so timeout 80 python3 bench/sweep_decode_split_policy.py "$lib r$round" --head-dims 32,64,80,96,128,160,192,256 --groups 2 --runtime-only --rounds 1 >> "$OUT/ab.txt" 2>> /tmp/ab.log || echo "$lib r$round failed" >> "$OUT/ab.txt"
  done
  echo "round $round done ($SECONDS s)"
done
for lib in old new; do
  ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/sweep_decode_split_policy.py "$lib r1" --head-dims 64,128 --groups 8 --runtime-only --rounds 1 >> "$OUT/ab_g8.txt" 2>> /tmp/ab.log || echo "$lib g8 failed" >> "$OUT/ab_g8.txt"
done
echo "g8 done ($SECONDS s)"
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab.txt" old,new
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab_g8.txt" old,new
tail -3 /tmp/ab.log
echo "all done $SECONDS s"
