#!/usr/bin/env bash
# 1. bench/probe_combine_cost.py on the landed library (the combine's cost in a graph).
# 2. D 80 G 1/2/4 at 4 CTAs an SM (.minnctapersm 4: 128 registers; .device/onewave built
#    by decode_minctas_h100_2026-12-06/minctas.py .device/onewave KERNEL...) against the same PTX
#    re-assembled as it is (rb): the decode suite at D 80 on m4, then
#    sweep_decode_kv_heads.py at the runtime's split count and forced 1 and 4 splits,
#    two interleaved rounds.
set -u
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?}"
[ -f /tmp/lib.so ] || xz -dc .device/lib.so.xz > /tmp/lib.so
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/lib.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
timeout 150 python3 bench/probe_combine_cost.py --head-dims 80,128 2>&1 | grep -v Warning | tee "$OUT/combine.txt"
for v in rb m4; do mkdir -p /tmp/p/$v && tar -C /tmp/p/$v -xJf .device/sm90.tar.xz && cp .device/onewave/$v/sm_90/* /tmp/p/$v/sm_90/; done
ATTN_TARGET=sm_90 ATTN_PACK_DIR=/tmp/p/m4 timeout 120 python3 test/gpu/test_decode.py --head-dims 80 --out "$OUT/test_decode_m4.md" > "$OUT/test_decode_m4.log" 2>&1; echo "m4 decode rc $?"; tail -1 "$OUT/test_decode_m4.log"
for round in 1 2; do
  for p in rb m4; do
    ATTN_TARGET=sm_90 ATTN_PACK_DIR=/tmp/p/$p timeout 100 python3 bench/sweep_decode_kv_heads.py "$p r$round" --pages 256 --head-dims 80 --groups 2,4 --splits 0,1,4 >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round failed" >> "$OUT/ab.txt"
    echo "round $round $p done $SECONDS s"
  done
done
cat "$OUT/ab.txt"
