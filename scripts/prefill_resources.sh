#!/usr/bin/env bash
# Prints the markdown table of bench/results/prefill_kernels_resources_*.md: registers,
# spills and dynamic shared memory of every prefill kernel of the built pack, from
# `ptxas -v` (CUDA's ptxas, $PTXAS) and the manifests. Usage:
#   scripts/prefill_resources.sh [pack dir, default build/attn_pack] > table.md
set -euo pipefail
pack=${1:-build/attn_pack}
ptxas=${PTXAS:-/usr/local/cuda/bin/ptxas}
echo "| target | kernel | registers | spill stores / loads (bytes) | dynamic smem (bytes) |"
echo "|---|---|---|---|---|"
for target in sm_90a sm_90 sm_89; do
  for ptx in "$pack/$target"/attn_prefill_*.ptx; do
    name=$(basename "$ptx" .ptx)
    info=$("$ptxas" -arch="$target" -v "$ptx" -o /dev/null 2>&1 |
      awk -v k="'$name'" '$0 ~ "entry function " k { on = 1; next }
        on && /spill stores/ { st = $5; ld = $9 }
        on && /Used/ { print $5, st, ld; exit }')
    read -r regs st ld <<<"$info"
    smem=$(grep -o "^name=$name .* smem=[0-9]*" "$pack/$target/manifest.txt" | sed 's/.*smem=//')
    echo "| $target | $name | $regs | $st / $ld | $smem |"
  done
done
