#!/usr/bin/env bash
# On the GPU machine, from the repository root: the decode correctness suite for the sm_90
# and the sm_89 kernels, then the decode benchmark; logs and results go to $OUT.
# Needs build/lib/libattnrt.so, build/attn_pack/, and for the plot the wheels in .whl/
# where matplotlib is missing; the Triton peer is read from third_party/peers/.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the logs and results}"
mkdir -p "$OUT"

if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export ATTN_LIB="$PWD/build/lib/libattnrt.so" ATTN_PACK_DIR="$PWD/build/attn_pack"
export PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi

status=0
for target in sm_90 sm_89; do
  echo "== test_decode.py, ATTN_TARGET=$target"
  ATTN_TARGET=$target python3 test/gpu/test_decode.py --out "$OUT/test_decode_$target.md" \
    2>&1 | tee "$OUT/test_decode_$target.log" || status=1
done
echo "== bench_decode.py"
python3 bench/bench_decode.py --out "$OUT" 2>&1 | tee "$OUT/bench_decode.log" || status=1
exit "$status"
