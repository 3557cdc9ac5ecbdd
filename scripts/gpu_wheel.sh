#!/usr/bin/env bash
# On the GPU machine, from the repository root: the wheels of dist/ (./scripts/build.sh
# writes them) installed with pip into a clean target, and used from /tmp with no
# checkout on the path; logs and results go to $OUT.
#
#   OUT=results bash scripts/gpu_wheel.sh [stage ...]    (no stage: install first-token)
#
#   install      pip install --no-index --no-deps --target /tmp/attn_wheel dist/*.whl, then
#                python -m attn_kernels, python -m attn_kernels --self-test and
#                test/gpu/test_api.py --backend attn through the installed copy
#   first-token  "pip install to first generated token" for nano-vllm on the wheels
#                (scripts/e2e/first_token.py), twice, each from a fresh pip install:
#                cold (empty torch inductor, Triton and CUDA caches), then warm, which
#                goes on with bench.py's workload; writes OUT/first_token.md
#   fa4          FlashAttention-4's install (../shared/peers/fa4/install.sh), import and
#                first calls in nano-vllm's shapes, in fresh processes: FA4's defaults,
#                then its disk cache on (cold, then warm); adds to OUT/first_token.md.
#                Needs .whl/fa4/ from ../shared/peers/fa4/prepare.sh and two calls
#                back to back: first carry .whl/fa4/a and run
#                  mkdir -p /tmp/fa4 && cp .whl/fa4/a/* /tmp/fa4/
#                then carry .whl/fa4/b and run this stage.
#
# install needs dist/ only; first-token also third_party/nano-vllm/ and .whl/e2e/ (as
# scripts/gpu_e2e.sh: the wheels nano-vllm needs, installed offline into /tmp/site),
# and writes the random-weight model once to $E2E_MODEL (default
# /tmp/attn_e2e/qwen3-random, 1.2 GB). Each stage's processes are capped at
# $STAGE_TIMEOUT seconds (default 570).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the logs and results}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
repo=$PWD
limit=${STAGE_TIMEOUT:-570}
model=${E2E_MODEL:-/tmp/attn_e2e/qwen3-random}
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(install first-token)
wheels=(dist/attn_kernels-*.whl dist/attn_kernels_flash_attn_shim-*.whl)
export PYTHONUNBUFFERED=1

need() {
  for path in "$@"; do
    [ -e "$path" ] || { echo "gpu_wheel: missing $path" >&2; exit 1; }
  done
}

# Runs a command from /tmp with only $1 (colon-separated) on PYTHONPATH and none of the
# variables that point the package elsewhere.
outside() {
  local path=$1
  shift
  (cd /tmp && env -u ATTN_LIB -u ATTN_PACK_DIR -u ATTN_TARGET -u ATTN_BACKEND \
    PYTHONPATH="$path" timeout "$limit" "$@")
}

pip_install() {  # target, then wheels
  local target=$1
  shift
  rm -rf "$target"
  python3 -m pip install -q --disable-pip-version-check --no-index --no-deps \
    --target "$target" "$@"
}

# nano-vllm's dependencies, as scripts/gpu_e2e.sh installs them (scripts/e2e/site.sh).
source scripts/e2e/site.sh
nanovllm_site() {
  need third_party/nano-vllm/nanovllm .whl/e2e
  install_e2e_site
  if [ ! -f "$model/model.safetensors" ]; then
    PYTHONPATH=$site python3 scripts/e2e/make_random_qwen3.py --out "$model" 2>&1 |
      tee "$OUT/make_model.log"
  fi
}

status=0
for stage in "${stages[@]}"; do
  echo "== gpu_wheel: $stage"
  start=$(date +%s)
  case $stage in
    install)
      need "${wheels[@]}"
      {
        pip_install /tmp/attn_wheel "${wheels[@]}" &&
          outside /tmp/attn_wheel python3 -m attn_kernels &&
          outside /tmp/attn_wheel python3 -m attn_kernels --self-test &&
          outside /tmp/attn_wheel python3 "$repo/test/gpu/test_api.py" --backend attn \
            --out "$OUT/test_api_wheel.md"
      } 2>&1 | tee "$OUT/wheel_install.log" || status=1
      ;;
    first-token)
      need "${wheels[@]}"
      nanovllm_site
      caches=/tmp/attn_first_token_caches
      rm -rf "$caches"
      for run in cold warm; do
        extra=()
        [ "$run" = warm ] && extra=(--bench)
        t0=$(date +%s.%N)
        pip_install /tmp/attn_first_token "${wheels[@]}"
        t1=$(date +%s.%N)
        TORCHINDUCTOR_CACHE_DIR=$caches/inductor TRITON_CACHE_DIR=$caches/triton \
          CUDA_CACHE_PATH=$caches/cuda \
          outside "/tmp/attn_first_token:$site" python3 "$repo/scripts/e2e/first_token.py" \
          nanovllm --t0 "$t0" --pip-end "$t1" --model "$model" --out "$OUT" \
          --label "$run" "${extra[@]}" 2>&1 | tee "$OUT/first_token_$run.log" || status=1
      done
      ;;
    fa4)
      need /tmp/fa4/cu13.part.aa .whl/fa4/b/install.sh
      t0=$(date +%s.%N)
      exports=$(bash .whl/fa4/b/install.sh .whl/fa4/b)
      t1=$(date +%s.%N)
      fa4_path=$(sed -n 's/^export PYTHONPATH=\([^$]*\):\$PYTHONPATH$/\1/p' <<<"$exports")
      [ -n "$fa4_path" ] || { echo "gpu_wheel: unexpected install.sh output: $exports" >&2; exit 1; }
      install_seconds=$(python3 -c "print($t1 - $t0)")
      cache=/tmp/attn_fa4_cache
      rm -rf "$cache"
      for run in defaults cache-cold cache-warm; do
        settings=()
        [ "$run" != defaults ] && settings=(FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED=1
          FLASH_ATTENTION_CUTE_DSL_CACHE_DIR="$cache")
        outside "$fa4_path" env "${settings[@]}" python3 "$repo/scripts/e2e/first_token.py" \
          fa4 --out "$OUT" --label "$run" --install-seconds "$install_seconds" 2>&1 |
          tee "$OUT/fa4_$run.log" || status=1
      done
      ;;
    *)
      echo "gpu_wheel: unknown stage $stage" >&2
      status=1
      ;;
  esac
  echo "== gpu_wheel: $stage took $(( $(date +%s) - start )) s"
done
exit "$status"
