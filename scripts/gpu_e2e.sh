#!/usr/bin/env bash
# On the GPU machine, from the repository root: the Python API suite and nano-vllm end to
# end on a random-weight Qwen3-0.6B; logs and results go to $OUT.
#
#   OUT=results bash scripts/gpu_e2e.sh [stage ...]      (no stage: all, in this order)
#
#   api          test/gpu/test_api.py: both backends, the sm_90 kernels (ATTN_TARGET)
#   api-sm89     test/gpu/test_api.py: the libattnrt backend on the sm_89 kernels
#   pip          the wheels of dist/ pip-installed offline into /tmp, then python -m
#                attn_kernels (--self-test) and test/gpu/test_api.py on the libattnrt
#                backend through the installed copy (scripts/gpu_wheel.sh install)
#   eager        nano-vllm eager: prefix-cache run (ours, torch), next-token logits of
#                ours against torch, bench.py's first 16 sequences (ours, torch, seed)
#   eager-bench  nano-vllm eager: bench.py's workload, ours and torch
#   graph        nano-vllm with CUDA graphs on ours: prefix-cache run, bench.py's workload
#   graph-torch  nano-vllm with CUDA graphs on the torch backend: bench.py's workload
#
# Each stage is one process capped at $STAGE_TIMEOUT seconds (default 570; a bench run
# inside it stops after $E2E_DEADLINE seconds, default 300), so one stage
# fits a 10-minute call. Needs the runtime ($ATTN_LIB, default build/lib/libattnrt.so;
# the pack built into it, or $ATTN_PACK_DIR when set), python/,
# third_party/nano-vllm/ and .whl/e2e/ (the wheels nano-vllm needs that the machine lacks,
# installed offline into /tmp/site). The model is written once to $E2E_MODEL (default
# /tmp/attn_e2e/qwen3-random, 1.2 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the logs and results}"
mkdir -p "$OUT"
model=${E2E_MODEL:-/tmp/attn_e2e/qwen3-random}
# Kept on the machine across calls: each call's OUT/e2e/nanovllm_e2e.md covers every
# nano-vllm run since the machine started (OUT/e2e/results.jsonl: this call's only).
ledger=${E2E_LEDGER:-/tmp/attn_e2e/results.jsonl}
limit=${STAGE_TIMEOUT:-570}
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(api api-sm89 pip eager eager-bench graph graph-torch)

export ATTN_LIB="${ATTN_LIB:-$PWD/build/lib/libattnrt.so}"
for need in "$ATTN_LIB" third_party/nano-vllm/nanovllm .whl/e2e; do
  [ -e "$need" ] || { echo "gpu_e2e: missing $need" >&2; exit 1; }
done

# Offline wheels for nano-vllm into /tmp/site (scripts/e2e/site.sh).
source scripts/e2e/site.sh
install_e2e_site
export PYTHONPATH="$site:$PWD/python${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi | tee "$OUT/nvidia-smi.txt"

make_model() {
  if [ ! -f "$model/model.safetensors" ]; then
    python3 scripts/e2e/make_random_qwen3.py --out "$model" 2>&1 | tee "$OUT/make_model.log"
  fi
}

nanovllm() {  # log name, then run_nanovllm.py's arguments
  local log=$1
  shift
  make_model
  timeout "$limit" python3 scripts/e2e/run_nanovllm.py --model "$model" --out "$OUT/e2e" \
    --ledger "$ledger" --deadline "${E2E_DEADLINE:-300}" "$@" 2>&1 | tee "$OUT/$log.log"
}

status=0
for stage in "${stages[@]}"; do
  echo "== gpu_e2e: $stage"
  start=$(date +%s)
  case $stage in
    api)
      ATTN_TARGET=sm_90 timeout "$limit" python3 test/gpu/test_api.py \
        --out "$OUT/test_api_sm_90.md" 2>&1 | tee "$OUT/test_api_sm_90.log" || status=1
      ;;
    pip)
      # The documented install (README): the wheels of dist/ into a clean target with
      # pip, offline; then the API suite through the installed packages alone (no
      # ATTN_LIB, no checkout on the path): scripts/gpu_wheel.sh's install stage.
      STAGE_TIMEOUT=$limit bash scripts/gpu_wheel.sh install || status=1
      ;;
    api-sm89)
      ATTN_TARGET=sm_89 timeout "$limit" python3 test/gpu/test_api.py --backend attn \
        --out "$OUT/test_api_sm_89.md" 2>&1 | tee "$OUT/test_api_sm_89.log" || status=1
      ;;
    eager)
      nanovllm e2e_eager --mode eager --backends ours,torch,seed \
        --phases prefix,logits,bench-small || status=1
      ;;
    eager-bench)
      nanovllm e2e_eager_bench --mode eager --backends ours,torch --phases bench || status=1
      ;;
    graph)
      nanovllm e2e_graph --mode graph --backends ours --phases prefix,bench || status=1
      ;;
    graph-torch)
      nanovllm e2e_graph_torch --mode graph --backends torch --phases bench || status=1
      ;;
    *)
      echo "gpu_e2e: unknown stage $stage" >&2
      status=1
      ;;
  esac
  echo "== gpu_e2e: $stage took $(( $(date +%s) - start )) s"
done
exit "$status"
