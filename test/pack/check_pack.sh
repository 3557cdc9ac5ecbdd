#!/usr/bin/env bash
# Builds the kernel pack and assembles every kernel's PTX with ptxas for its
# target (sm_80: PTX only; sm_89, sm_90: with cubins); fails on any ptxas
# error or a manifest entry without its files.
set -euo pipefail
attn_pack=$1 ptxas=$2 out=$3
rm -rf "$out"
"$attn_pack" -o "$out" >/dev/null
count=0
for target in sm_80 sm_89 sm_90; do
  manifest="$out/$target/manifest.txt"
  head -1 "$manifest" | grep -q "^attn-pack 1 target=$target compiler=attn-"
  for ptx in "$out/$target"/*.ptx; do
    "$ptxas" -arch="$target" "$ptx" -o /dev/null
    if [ "$target" != sm_80 ]; then
      [ -s "${ptx%.ptx}.cubin" ] || { echo "missing cubin for $ptx"; exit 1; }
    fi
    count=$((count + 1))
  done
  # Every kernel the manifest names has its PTX.
  grep -o 'ptx=[^ ]*' "$manifest" | cut -d= -f2 | sort -u | while read -r f; do
    [ -s "$out/$target/$f" ] || { echo "manifest names missing $f"; exit 1; }
  done
done
echo "assembled $count kernel modules with ptxas"
