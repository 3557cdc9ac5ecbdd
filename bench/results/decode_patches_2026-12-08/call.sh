#!/usr/bin/env bash
# The decode patch (change.patch here) on a GPU, in one call. main's library
# (.device/main.so.xz) runs every arm; the patched decode kernels come as sm_90
# packs in .device/packs.tar.xz (<arm>/sm_90/: `attn-pack --target sm_90` of the
# patched tree; see README.md), read through ATTN_PACK_DIR. Every arm runs with
# ATTN_TARGET=sm_90, main's from its embedded pack.
# ARMS (default "main patched") names the arms. Correctness of the last arm (it
# holds every change) first: forced split counts at every head dim, then the
# decode suite. Then interleaved rounds at the runtime's split counts: G 2 at
# every D; G 1, 4 and 8 at D 32 and 128.
# Each step is skipped when too little of CALL_LIMIT (590) seconds is left.
#   OUT=... bash bench/results/decode_patches_2026-12-08/call.sh   (on a lent GPU)
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
xz -dc .device/main.so.xz > /tmp/main.so
mkdir -p /tmp/packs && xz -dc .device/packs.tar.xz | tar -x -C /tmp/packs
export PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
export ATTN_LIB=/tmp/main.so ATTN_TARGET=sm_90
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
step() {  # step SECONDS LOG ARM COMMAND...: runs COMMAND for ARM under timeout if it fits
  local limit=$1 log=$2 arm=$3; shift 3
  if (( SECONDS + limit > ${CALL_LIMIT:-590} )); then echo "skipped: $arm $*" >> "$OUT/skipped.txt"; return; fi
  local pack=""
  [ "$arm" = main ] || pack=/tmp/packs/$arm
  ATTN_PACK_DIR=$pack timeout "$limit" "$@" >> "$log" 2>&1
  echo "rc $? ($SECONDS s): $arm $*" | cut -c1-160
}
arms=${ARMS:-main patched}
last=${arms##* }
step 70 "$OUT/check_splits.txt" $last \
  python3 bench/results/decode_combine_wide_h100_2026-12-07/check_splits.py
tail -1 "$OUT/check_splits.txt"
step 110 "$OUT/test_decode.log" $last python3 test/gpu/test_decode.py
tail -1 "$OUT/test_decode.log"
sweep="bench/sweep_decode_split_policy.py --runtime-only --rounds 1"
for round in 1 2; do
  for arm in $arms; do
    step 60 "$OUT/ab.txt" $arm python3 $sweep "$arm r$round" --groups 2
  done
  for arm in $arms; do
    step 40 "$OUT/ab_g148.txt" $arm python3 $sweep "$arm r$round" --head-dims 32,128 --groups 1,4,8
  done
done
grep -v " r[12]" "$OUT/ab.txt" "$OUT/ab_g148.txt" | head -5
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab.txt" ${arms// /,}
python3 bench/results/decode_block_n_h100_2026-12-07/abtable.py "$OUT/ab_g148.txt" ${arms// /,}
echo "all done $SECONDS s"
