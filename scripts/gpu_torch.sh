#!/usr/bin/env bash
# On the GPU machine, from the repository root: the torch-integration checks and
# measurements (docs/python.md); every log and result is packed into $OUT/results.tgz
# (a call brings back at most 8 files).
#
#   OUT=results bash scripts/gpu_torch.sh [stage ...]   (no stage: tests host)
#
#   tests        test/gpu/test_api.py (both backends, sm_90 kernels: correctness, CUDA
#                graphs, torch.compile fullgraph default and reduce-overhead, strides,
#                empty batches, set_default_device) and test/gpu/test_threads.py
#   host         bench/bench_host.py: host time per call against torch's FA2 op
#   wheel        scripts/gpu_wheel.sh install (needs dist/)
#   e2e-graph    scripts/e2e/bench_e2e.py run --mode graph --profile (ours, peer, null;
#                $E2E_ROUNDS rounds, default 3)
#   e2e-eager    the same in eager mode ($E2E_EAGER_BACKENDS, default ours,peer)
#   fuzz         test/gpu/fuzz.py (docs/testing.md): $FUZZ_CASES (default 10000) cases on
#                the native kernels, then $FUZZ_PTX_CASES (default 1000) on each of sm_89
#                and sm_80 (PTX, ATTN_TARGET); fuzz_regressions.json comes back too
#
# The runtime is $ATTN_LIB, or .device/libattnrt.so.xz unpacked (xz -T0 -9 of
# build/lib/libattnrt.so: 28 MB, its pack LZ-compressed, becomes about 8 MB for the
# trip). e2e stages need
# third_party/ (scripts/e2e/fetch_nanovllm.sh) and make the random-weight model once.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder for the results}"
results=/tmp/attn_results
mkdir -p "$OUT" "$results"
if [ -z "${ATTN_LIB:-}" ]; then
  xz -dc .device/libattnrt.so.xz > /tmp/libattnrt.so
  export ATTN_LIB=/tmp/libattnrt.so
fi
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
model=${E2E_MODEL:-/tmp/attn_e2e/qwen3-random}
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(tests host)
status=0
# Every stage ends by $deadline (a call may run 600 s), so the results still come back.
deadline=$(( $(date +%s) + ${CALL_SECONDS:-570} ))
left() { echo $(( deadline - $(date +%s) )); }
nvidia-smi > "$results/nvidia-smi.txt"
for stage in "${stages[@]}"; do
  start=$(date +%s)
  echo "== gpu_torch: $stage"
  case $stage in
    tests)
      ATTN_TARGET=sm_90 timeout 400 python3 test/gpu/test_api.py \
        --out "$results/test_api_sm_90.md" > "$results/test_api.log" 2>&1 || status=1
      grep -E "FAIL|passed" "$results/test_api.log" | tail -20
      timeout 200 python3 test/gpu/test_threads.py > "$results/test_threads.log" 2>&1 || status=1
      tail -20 "$results/test_threads.log"
      ;;
    host)
      timeout 300 python3 bench/bench_host.py --out "$results/host.md" ${HOST_BREAKDOWN:+--breakdown} \
        > "$results/host.log" 2>&1 || status=1
      grep breakdown "$results/host.log"; cat "$results/host.md"
      ;;
    wheel)
      OUT=$results/wheel STAGE_TIMEOUT=300 bash scripts/gpu_wheel.sh install \
        > "$results/wheel.log" 2>&1 || status=1
      tail -15 "$results/wheel.log"
      ;;
    e2e-graph | e2e-eager)
      mode=${stage#e2e-}
      if [ ! -f "$model/model.safetensors" ]; then
        python3 scripts/e2e/make_random_qwen3.py --out "$model" > "$results/model.log" 2>&1
      fi
      backends=ours,peer,null
      [ "$mode" = eager ] && backends=${E2E_EAGER_BACKENDS:-ours,peer}
      E2E_MODEL=$model timeout "$(left)" python3 scripts/e2e/bench_e2e.py run --mode "$mode" \
        --rounds "${E2E_ROUNDS:-3}" --backends "$backends" --out "$results/e2e" \
        ${E2E_PROFILE:+--profile} ${E2E_NO_WARMUP:+--no-warmup} \
        > "$results/e2e_$mode.log" 2>&1 || status=1
      tail -30 "$results/e2e_$mode.log"
      ;;
    fuzz)
      # Native first, with at most half the time left; the PTX targets (their first
      # calls JIT-compile) share the rest. A shortened run exits 3 (status 1).
      for target in native sm_89 sm_80; do
        cases=${FUZZ_PTX_CASES:-1000} share=2 flag=(--target "$target")
        [ "$target" = native ] && cases=${FUZZ_CASES:-10000} flag=()
        [ "$target" = sm_80 ] && share=1
        seconds=$(( $(left) / share - 30 ))
        if [ "$seconds" -lt 30 ]; then
          echo "gpu_torch: no time left for fuzz $target" >&2; status=1; continue
        fi
        timeout "$(( seconds + 25 ))" python3 test/gpu/fuzz.py "${flag[@]}" \
          --seed "${FUZZ_SEED:-1}" --cases "$cases" --max-seconds "$seconds" \
          --out "$results/fuzz_$target.md" > "$results/fuzz_$target.log" 2>&1 || status=1
        grep -E "^(FAIL|fuzz: )" "$results/fuzz_$target.log" | tail -6
      done
      cp test/gpu/fuzz_regressions.json "$results/"
      ;;
    *)
      echo "gpu_torch: unknown stage $stage" >&2
      status=1
      ;;
  esac
  echo "== gpu_torch: $stage took $(( $(date +%s) - start )) s"
done
tar czf "$OUT/results.tgz" -C "$results" .
exit "$status"
