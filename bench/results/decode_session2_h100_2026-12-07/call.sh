#!/usr/bin/env bash
# Ran on an H100 on 2026-12-07 (third session; results in README.md beside it).
# `bash bench/results/decode_session2_h100_2026-12-07/call.sh all` with .device/lib.so.xz
# (the landed library before the change) and .device/new89.so.xz (the build with
# session2.patch applied) carried (about 4 min).
# One library with both changes of this session (new.so: the whole-warp D 80
# combine of whole_warp_combine.patch and sm_89's G 8 decode kernels on tensor
# cores) against the landed one (old.so). Stage 1: correctness (forced split
# counts on sm_90; the decode suite on sm_90 and on sm_89's PTX, JIT-compiled on
# this GPU; the prefill suite). Stage 2: timings (the combine's
# cost in a graph, interleaved A/Bs on sm_90 and, as a proxy, on sm_89's PTX;
# the memset-node probe). Needs .device/lib.so.xz and .device/new89.so.xz.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
stage=${1:?stage 1, 2 or all (1 then 2)}
xz -dc .device/lib.so.xz > /tmp/old.so
xz -dc .device/new89.so.xz > /tmp/new.so
export PYTHONPATH=$PWD/python:$PWD/bench:$PWD/test/gpu PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
wide=bench/results/decode_combine_wide_h100_2026-12-07
if [ "$stage" != 2 ]; then
  ATTN_LIB=/tmp/new.so timeout 60 python3 $wide/check_splits.py > "$OUT/check_sm90.txt" 2>&1
  echo "check_splits sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/check_sm90.txt"
  for target in sm_89; do
    ATTN_LIB=/tmp/new.so ATTN_TARGET=$target timeout 160 python3 test/gpu/test_decode.py --out "$OUT/test_decode_$target.md" > "$OUT/test_decode_$target.log" 2>&1
    echo "test_decode $target rc $? ($SECONDS s)"; tail -1 "$OUT/test_decode_$target.log"
  done
  ATTN_LIB=/tmp/new.so timeout 120 python3 test/gpu/test_decode.py --out "$OUT/test_decode_sm_90.md" > "$OUT/test_decode_sm_90.log" 2>&1
  echo "test_decode sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/test_decode_sm_90.log"
  ATTN_LIB=/tmp/new.so timeout 60 python3 test/gpu/test_prefill.py > "$OUT/test_prefill_sm_90.log" 2>&1
  echo "test_prefill sm_90 rc $? ($SECONDS s)"; tail -1 "$OUT/test_prefill_sm_90.log"
  [ "$stage" = 1 ] && exit 0
fi
for lib in old new; do
  ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/probe_combine_cost.py --head-dims 80 2>&1 | grep -v -i warn | sed "s/^/$lib /" >> "$OUT/combine.txt"
done
cat "$OUT/combine.txt"
for lib in old new; do
  ATTN_LIB=/tmp/$lib.so ATTN_TARGET=sm_89 timeout 60 python3 bench/sweep_decode_split_policy.py "$lib r1" --head-dims 32,128,256 --groups 8 --runtime-only --rounds 1 >> "$OUT/ab_sm89.txt" 2>> "$OUT/ab.log" || echo "$lib failed" >> "$OUT/ab_sm89.txt"
  ATTN_LIB=/tmp/$lib.so ATTN_TARGET=sm_89 timeout 60 python3 bench/bench_decode.py --only-ours "$lib r1" >> "$OUT/bench_sm89.txt" 2>> "$OUT/ab.log" || echo "$lib failed" >> "$OUT/bench_sm89.txt"
done
echo "sm_89 A/B done ($SECONDS s)"
for lib in old new; do
  ATTN_LIB=/tmp/$lib.so timeout 40 python3 bench/sweep_decode_split_policy.py "$lib r1" --head-dims 80,128 --groups 2 --runtime-only --rounds 1 >> "$OUT/ab_sm90.txt" 2>> "$OUT/ab.log" || echo "$lib failed" >> "$OUT/ab_sm90.txt"
done
echo "sm_90 A/B done ($SECONDS s)"
table=bench/results/decode_block_n_h100_2026-12-07/abtable.py
python3 $table "$OUT/ab_sm90.txt" old,new | tee "$OUT/table_sm90.md"
python3 $table "$OUT/ab_sm89.txt" old,new | tee "$OUT/table_sm89.md"
cat "$OUT/bench_sm89.txt"
ATTN_LIB=/tmp/old.so timeout $(( SECONDS < 570 ? 580 - SECONDS : 10 )) python3 bench/probe_memset_node.py --head-dims 80,128 2>&1 | grep -v -i warn | tee "$OUT/memset.txt"
echo "all done $SECONDS s"
