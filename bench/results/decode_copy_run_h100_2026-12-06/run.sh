#!/usr/bin/env bash
# (1) flat: the tensor-core decode copies as one run of chunks (D 80/96/160/192):
#     decode suite, then interleaved A/B against the shipped pack;
# (2) the padding probe (call3's variants).
set -u
cd "$(dirname "$0")/.."
: "${OUT:?}"
xz -dc .device/head.so.xz > /tmp/head.so
mkdir -p /tmp/base /tmp/p/flat && tar -C /tmp/base -xJf .device/sm90.tar.xz
cp -r /tmp/base/sm_90 /tmp/p/flat/ && tar -C /tmp/p -xJf .device/flat.tar.xz
for v in pad64 pad96 pad128; do mkdir -p /tmp/p/$v/sm_90 && ln -s /tmp/base/sm_90/* /tmp/p/$v/sm_90/ 2>/dev/null; rm /tmp/p/$v/sm_90/manifest.txt; cp .device/padvar/$v/sm_90/manifest.txt /tmp/p/$v/sm_90/; done
export PYTHONPATH=$PWD/python:$PWD/bench PYTHONUNBUFFERED=1 ATTN_LIB=/tmp/head.so
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
for v in flat:80,96,160,192 pad64:32 pad96:80 pad128:80,96; do p=${v%%:*}; dims=${v#*:}
  ATTN_TARGET=sm_90 ATTN_PACK_DIR=/tmp/p/$p timeout 240 python3 test/gpu/test_decode.py --head-dims $dims --out "$OUT/test_decode_$p.md" > "$OUT/test_decode_$p.log" 2>&1; echo "$p decode rc $?"; tail -1 "$OUT/test_decode_$p.log"; grep "^FAIL" "$OUT/test_decode_$p.log" | cut -c1-200 | head -5
done
for round in 1 2; do
  for v in ship:32,80,96,160,192 flat:80,96,160,192 pad64:32 pad96:80 pad128:80,96; do p=${v%%:*}; dims=${v#*:}
    (
      if [ $p != ship ]; then export ATTN_TARGET=sm_90 ATTN_PACK_DIR=/tmp/p/$p; fi
      timeout 200 python3 bench/sweep_decode_split_policy.py "$p r$round" --head-dims $dims --runtime-only --rounds 3
    ) >> "$OUT/ab.txt" 2>> "$OUT/ab.log" || echo "$p r$round failed" >> "$OUT/ab.txt"
    echo "round $round $p done $(date +%T)"
  done
done
grep -E "failed|FAIL|correctness" "$OUT/ab.txt"
