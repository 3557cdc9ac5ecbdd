#!/usr/bin/env bash
# The tensor-core decode kernels (attn-lower-to-gpu's decode-mma, the tables'
# "mma"; docs/attention_implementation.md section 3) on a GPU for the first
# time: correctness, then an A/B against the shipped CUDA-core kernels. Three
# steps (the two on the GPU are separate calls: each fits a 10-minute limit):
#
#   bash scripts/gpu_decode_mma.sh packs        (this machine: attn-pack)
#       builds .device/decode_mma/mma.tar.xz: an sm_90 pack whose decode
#       kernels specialised on G all take tensor cores (block_n 64, 2 stages,
#       128 threads; D 32 G 2 with 4 KV heads a CTA: test/pack/decode_mma_tables,
#       with the library's split policy; the prefill kernels at that table's
#       defaults), every head dim, small enough to carry to the GPU.
#   OUT=dir bash scripts/gpu_decode_mma.sh verify   (the GPU machine, carry .device)
#       on the library $ATTN_LIB, or .device/new.so.xz unpacked (this tree's:
#       xz -T2 -6 -c build/lib/libattnrt.so > .device/new.so.xz):
#       test/gpu/test_decode.py and test/gpu/test_api.py --backend attn on the
#       tensor-core pack (ATTN_PACK_DIR, ATTN_TARGET=sm_90).
#   OUT=dir bash scripts/gpu_decode_mma.sh ab       (the GPU machine, as verify)
#       bench/sweep_decode_kv_heads.py for $AB_ROUNDS rounds (default 2),
#       interleaved: base (the library's pack) and mma, at $AB_DIMS (default
#       32,80,128) and G 1, 2, 4, 8, page 256 (its float64 checks, then the
#       timings). Writes $OUT/decode_mma_*.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.device/decode_mma
case "${1:-}" in
  packs)
    rm -rf "$dir"
    mkdir -p "$dir"
    build/bin/attn-pack --target=sm_90 --tables test/pack/decode_mma_tables \
      -o "$dir/mma" >/dev/null
    tar -C "$dir" -cf - mma | xz -T2 -6 > "$dir/mma.tar.xz"
    echo "$dir/mma.tar.xz: $(grep -c ' op=decode ' "$dir/mma/sm_90/manifest.txt")" \
      "decode kernels, $(du -h "$dir/mma.tar.xz" | cut -f1)"
    rm -rf "$dir/mma"
    ;;
  verify | ab)
    : "${OUT:?set OUT to the folder for the results}"
    mkdir -p "$OUT"
    if [ -z "${ATTN_LIB:-}" ]; then
      xz -dc .device/new.so.xz > /tmp/decode_mma_lib.so
      export ATTN_LIB=/tmp/decode_mma_lib.so
    fi
    packs=/tmp/decode_mma_packs
    rm -rf "$packs"
    mkdir -p "$packs"
    xz -dc "$dir/mma.tar.xz" | tar -C "$packs" -xf -
    export PYTHONPATH="$PWD/python:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONUNBUFFERED=1 ATTN_TARGET=sm_90
    status=0
    if [ "$1" = verify ]; then
      ATTN_PACK_DIR=$packs/mma timeout 280 python3 test/gpu/test_decode.py \
        --out "$OUT/decode_mma_test_decode.md" > "$OUT/decode_mma_test_decode.log" 2>&1 ||
        status=1
      tail -3 "$OUT/decode_mma_test_decode.log"
      ATTN_PACK_DIR=$packs/mma timeout 280 python3 test/gpu/test_api.py --backend attn \
        --out "$OUT/decode_mma_test_api.md" > "$OUT/decode_mma_test_api.log" 2>&1 ||
        status=1
      tail -3 "$OUT/decode_mma_test_api.log"
      exit "$status"
    fi
    report=$OUT/decode_mma_ab.txt
    echo "# decode-mma A/B, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader), $(date -u +%F)" > "$report"
    for round in $(seq 1 "${AB_ROUNDS:-2}"); do
      for label in base mma; do
        (
          [ "$label" = mma ] && export ATTN_PACK_DIR=$packs/mma
          timeout 240 python3 bench/sweep_decode_kv_heads.py "$label r$round" \
            --pages 256 --head-dims "${AB_DIMS:-32,80,128}" --groups 1,2,4,8
        ) >> "$report" 2>> "$OUT/decode_mma_ab.log" || status=1
      done
    done
    cat "$report"
    exit "$status"
    ;;
  *)
    echo "usage: bash scripts/gpu_decode_mma.sh packs | OUT=dir bash scripts/gpu_decode_mma.sh verify|ab" >&2
    exit 2
    ;;
esac
