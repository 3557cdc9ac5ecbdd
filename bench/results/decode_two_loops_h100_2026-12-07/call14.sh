#!/usr/bin/env bash
# D 128 G 8 with two loops (168 registers, 3 CTAs an SM): every split count forced
# (the policy sweep) on final.so, beside head2.so's runtime choice, interleaved.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
start=$SECONDS
xz -dc .device/final.so.xz > /tmp/final.so; xz -dc .device/head2.so.xz > /tmp/head.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for r in 1 2 3; do
  ATTN_LIB=/tmp/head.so python3 bench/sweep_decode_split_policy.py "head r$r" --head-dims 128 --groups ${GROUPS_:-8} --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>>"$OUT/err.txt"
  ATTN_LIB=/tmp/final.so python3 bench/sweep_decode_split_policy.py "final r$r" --head-dims 128 --groups ${GROUPS_:-8} --runtime-only --rounds 3 >> "$OUT/ab.txt" 2>>"$OUT/err.txt"
  echo "round $r at $((SECONDS-start)) s"
done
ATTN_LIB=/tmp/final.so timeout 300 python3 bench/sweep_decode_split_policy.py sweep --head-dims 128 --groups ${GROUPS_:-8} --rounds 3 --json "$OUT/sweep.json" > "$OUT/sweep.txt" 2>>"$OUT/err.txt"
echo "sweep rc $? at $((SECONDS-start)) s"; tail -5 "$OUT/sweep.txt"
ATTN_LIB=/tmp/head.so timeout 200 python3 bench/sweep_decode_split_policy.py sweephead --head-dims 128 --groups ${GROUPS_:-8} --rounds 3 --json "$OUT/sweep_head.json" > "$OUT/sweep_head.txt" 2>>"$OUT/err.txt"
echo "sweep head rc $? at $((SECONDS-start)) s"; tail -3 "$OUT/sweep_head.txt"
