#!/usr/bin/env bash
# Three decode libraries in one call: main (.device/main.so.xz, 0697cc1's kernels),
# "skip" (the P V onto the rescaled acc and the tensor-core rescale skip,
# .device/skip.so.xz) and "unpack" (skip plus the bf16 stage rows widened by integer
# ops and one select a row for exp2, .device/unpack.so.xz). Correctness of the last
# (it holds every change) first:
# forced split counts at every head dim, then the decode suite; then interleaved
# rounds at the runtime's split counts, G 2 at every D, G 1, 4 and 8 at D 32 and 128
# (G 8 runs on tensor cores, where the rescale skip applies).
# Each step is skipped when too little of the call's CALL_LIMIT (590) seconds is left.
# `OUT=... bash bench/results/decode_bf16_unpack_2026-12-07/call.sh` on a lent GPU.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
for lib in main skip unpack; do xz -dc .device/$lib.so.xz > /tmp/$lib.so; done
export PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
step() {  # step SECONDS LOG COMMAND...: runs COMMAND under timeout if it fits
  local limit=$1 log=$2; shift 2
  if (( SECONDS + limit > ${CALL_LIMIT:-590} )); then echo "skipped: $*" >> "$OUT/skipped.txt"; return; fi
  timeout "$limit" "$@" >> "$log" 2>&1
  echo "rc $? ($SECONDS s): $*" | cut -c1-160
}
ATTN_LIB=/tmp/unpack.so step 70 "$OUT/check_splits.txt" \
  python3 bench/results/decode_combine_wide_h100_2026-12-07/check_splits.py
tail -1 "$OUT/check_splits.txt"
ATTN_LIB=/tmp/unpack.so step 100 "$OUT/test_decode.log" python3 test/gpu/test_decode.py
tail -1 "$OUT/test_decode.log"
sweep="bench/sweep_decode_split_policy.py --runtime-only --rounds 1"
for round in 1 2; do
  for lib in main skip unpack; do
    ATTN_LIB=/tmp/$lib.so step 60 "$OUT/ab.txt" python3 $sweep "$lib r$round" --groups 2
  done
  for lib in main skip unpack; do
    ATTN_LIB=/tmp/$lib.so step 40 "$OUT/ab_g148.txt" python3 $sweep "$lib r$round" \
      --head-dims 32,128 --groups 1,4,8
  done
done
grep -v "^\(main\|skip\|unpack\) r" "$OUT/ab.txt" "$OUT/ab_g148.txt" | head -5
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab.txt" main,skip,unpack
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab_g148.txt" main,skip,unpack
echo "all done $SECONDS s"
