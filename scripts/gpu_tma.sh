#!/usr/bin/env bash
# sm_90a's TMA prefill kernels (docs/runtime_abi.md, "TMA prefill kernels")
# checked and measured against the cp.async producer kernels they replaced
# (attn-pack --tma=false). Two steps:
#
#   bash scripts/gpu_tma.sh packs [HEAD_DIMS]   (this machine: attn-pack)
#       builds .device/tma/{base,tma}: pack directories of sm_90a's prefill
#       kernels (HEAD_DIMS, default all) with --tma=false and with TMA, each beside an
#       sm_90 manifest that holds its header only (the sm_90a overlay needs one;
#       prefill needs no sm_90 kernel), small enough to carry to the GPU.
#   OUT=dir bash scripts/gpu_tma.sh verify      (the GPU machine, carry .device)
#       on the library $ATTN_LIB, or .device/new.so.xz unpacked (this tree's:
#       xz -T2 -6 -c build/lib/libattnrt.so > .device/new.so.xz, about 13 MB; an
#       older library does not pass the maps):
#       test/gpu/test_prefill.py on the TMA kernels (ATTN_PACK_DIR), the
#       sanitizer's memcheck and racecheck over their prefill cases, then
#       bench_prefill.py --only-ours interleaved for $AB_ROUNDS rounds (default
#       3): base (the cp.async producer), tma, and tma-off (the TMA kernels
#       with ATTN_PREFILL_TMA=0: TMA's effect alone). Writes $OUT/tma_*.md.
set -euo pipefail
cd "$(dirname "$0")/.."
packs=.device/tma
case "${1:-}" in
  packs)
    dims=${2:-}
    for kind in base tma; do
      dir=$packs/$kind
      rm -rf "$dir"
      flags=(--target=sm_90a -o "$dir")
      [ -n "$dims" ] && flags+=(--head-dims "$dims")
      [ "$kind" = base ] && flags+=(--tma=false)
      build/bin/attn-pack "${flags[@]}" >/dev/null
      mkdir -p "$dir/sm_90"
      sed 's/target=sm_90a/target=sm_90/;q' "$dir/sm_90a/manifest.txt" \
        > "$dir/sm_90/manifest.txt"
      echo "$dir: $(grep -c '^name=' "$dir/sm_90a/manifest.txt") lines," \
        "$(grep -c ' tma=1 ' "$dir/sm_90a/manifest.txt" || true) with tma=1," \
        "$(du -sh "$dir" | cut -f1)"
    done
    ;;
  verify)
    : "${OUT:?set OUT to the folder for the results}"
    mkdir -p "$OUT"
    if [ -z "${ATTN_LIB:-}" ]; then
      xz -dc .device/new.so.xz > /tmp/tma_lib.so
      export ATTN_LIB=/tmp/tma_lib.so
    fi
    export PYTHONPATH="$PWD/python:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONUNBUFFERED=1
    status=0
    ATTN_PACK_DIR=$PWD/$packs/tma timeout 240 python3 test/gpu/test_prefill.py \
      --out "$OUT/tma_test_prefill.md" > "$OUT/tma_test_prefill.log" 2>&1 || status=1
    tail -3 "$OUT/tma_test_prefill.log"
    ATTN_PACK_DIR=$PWD/$packs/tma SANITIZE_TOOLS=memcheck,racecheck \
      SANITIZE_SECONDS=${SANITIZE_SECONDS:-120} \
      SANITIZE_ARGS="--op prefill --head-dims ${SANITIZE_DIMS:-64,128}" \
      OUT="$OUT" bash scripts/gpu_torch.sh sanitize > "$OUT/tma_sanitize.log" 2>&1 ||
      status=1
    cp /tmp/attn_results/sanitize_summary.md "$OUT/tma_sanitize.md" 2>/dev/null || true
    report=$OUT/tma_prefill_ab.md
    {
      echo "# TMA prefill A/B, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader), $(date -u +%F)"
      echo
      echo "| build | workload | time | TFLOP/s | error |"
      echo "|---|---|---|---|---|"
    } > "$report"
    for round in $(seq 1 "${AB_ROUNDS:-3}"); do
      for label in base tma tma-off; do
        pack=$packs/${label%-off}
        tma=1
        [ "$label" = tma-off ] && tma=0
        ATTN_PACK_DIR=$PWD/$pack ATTN_PREFILL_TMA=$tma timeout 120 \
          python3 bench/bench_prefill.py --only-ours "$label r$round" \
          >> "$report" 2>> "$OUT/tma_ab.log" || status=1
      done
    done
    cat "$report"
    exit "$status"
    ;;
  *)
    echo "usage: $0 packs [HEAD_DIMS] | OUT=dir $0 verify" >&2
    exit 2
    ;;
esac
