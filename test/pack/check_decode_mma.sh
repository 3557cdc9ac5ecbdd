#!/usr/bin/env bash
# The tensor-core decode kernels (attn-lower-to-gpu's decode-mma, the tables'
# "mma"), over more kernels than the checked-in tables select: builds the sm_89 and
# sm_90 kernels of head dims 32, 80 and 128 with every decode kernel
# specialised on G through tensor cores (decode_mma_tables/; sm_90's D 32
# G 2 with 4 KV heads a CTA), assembles each
# decode kernel's PTX with ptxas, and checks that those kernels hold
# m16n8k16 MMAs and ldmatrix(.trans) and spill nothing on sm_90, and that
# the any-group kernels (CUDA cores, whatever the table says) hold no MMA.
#   check_decode_mma.sh <attn-pack> <ptxas> <out>
set -euo pipefail
attn_pack=$1 ptxas=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
"$attn_pack" --target=sm_89,sm_90 --head-dims 32,80,128 \
  --tables "$here/decode_mma_tables" -o "$out" >/dev/null
count=0
for target in sm_89 sm_90; do
  for ptx in "$out/$target"/attn_decode_*.ptx; do
    name=$(basename "$ptx" .ptx)
    report=$("$ptxas" -arch="$target" -v -o /dev/null "$ptx" 2>&1)
    if [[ $name == *_gany_* ]]; then
      ! grep -q "mma.sync" "$ptx" || { echo "$name: any-group kernel has mma.sync"; exit 1; }
    else
      grep -q "mma.sync.aligned.m16n8k16.row.col.f32" "$ptx" &&
        grep -q "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16" "$ptx" ||
        { echo "$name ($target): no m16n8k16 MMA or ldmatrix.trans"; exit 1; }
      usage=$(grep -A3 "entry function '$name'" <<<"$report" | tail -2 | tr -s ' \n' ' ')
      # sm_90 spills nothing; sm_89's ptxas holds some D 80 kernels to 128
      # registers and spills a few bytes (reported, not timed: no Ada GPU).
      if [ "$target" = sm_90 ]; then
        grep -q " 0 bytes spill stores" <<<"$usage" ||
          { echo "$name ($target) spills: $usage"; exit 1; }
      elif ! grep -q " 0 bytes spill stores" <<<"$usage"; then
        echo "$name ($target):$usage"
      fi
    fi
    count=$((count + 1))
  done
done
echo "assembled $count decode kernel modules with ptxas; no tensor-core one spills on sm_90"
