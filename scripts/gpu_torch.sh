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
#   local        bench/bench_local.py: sliding windows and the softcap against torch's
#                FA2 with the same window and our plain kernels
#   wheel        scripts/gpu_wheel.sh install (needs dist/)
#   e2e-graph    scripts/e2e/bench_e2e.py run --mode graph --profile (ours, peer, null;
#                $E2E_ROUNDS rounds, default 3)
#   e2e-eager    the same in eager mode ($E2E_EAGER_BACKENDS, default ours,peer)
#   fuzz         test/gpu/fuzz.py (docs/testing.md): $FUZZ_CASES (default 10000) cases on
#                the native kernels, then $FUZZ_PTX_CASES (default 1000) on each of sm_89
#                and sm_80 (PTX, ATTN_TARGET); fuzz_regressions.json comes back too
#   sanitize     test/gpu/sanitize_cases.py under compute-sanitizer memcheck, racecheck,
#                initcheck (small problems, no poisoning) and synccheck, each with a
#                share of $SANITIZE_SECONDS (default 240; $SANITIZE_TOOLS, default all
#                four; SANITIZE_FULL=1 adds the head_dims served by padding;
#                $SANITIZE_ARGS goes to sanitize_cases.py, e.g. "--op prefill
#                --head-dims 64,128"), plus a
#                planted fault that memcheck and initcheck must report; the table is
#                sanitize_summary.md, the logs sanitize/
#   soak         test/gpu/soak.py: $SOAK_CALLS (default 1000000) CUDA-graph replays and
#                as many eager calls, then two processes at once with $SOAK_SHARED_CALLS
#                (default 250000) each; soak*.csv, soak*.png and soak_summary*.md
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

# The sanitize stage (docs/testing.md): each tool runs test/gpu/sanitize_cases.py with
# its share of the budget; the kernel filter keeps torch's own kernels uninstrumented.
run_sanitize() {
  local dir=$results/sanitize budget=${SANITIZE_SECONDS:-240} tools tool share seconds
  local sanitizer filter=() flags t0 rc
  mkdir -p "$dir"
  [ "$budget" -gt "$(( $(left) - 30 ))" ] && budget=$(( $(left) - 30 ))
  tools=${SANITIZE_TOOLS:-memcheck,racecheck,initcheck,synccheck}
  sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  # API errors are not counted: torch probes the driver with calls that may fail, and
  # our runtime checks every driver call's status itself (a failure fails the call).
  if "$sanitizer" --help 2>&1 | grep -q -- --kernel-name; then
    filter=(--kernel-name kns=attn_ --report-api-errors no)
  else
    echo "gpu_torch: $sanitizer has no --kernel-name: every kernel is instrumented" >&2
  fi
  # Shares of the budget: memcheck and racecheck 3, the others 2, over the tools run.
  local total=0
  for tool in ${tools//,/ }; do
    case $tool in memcheck | racecheck) total=$(( total + 3 )) ;; *) total=$(( total + 2 )) ;; esac
  done
  for tool in ${tools//,/ }; do
    case $tool in memcheck | racecheck) share=3 ;; *) share=2 ;; esac
    seconds=$(( budget * share / total ))
    t0=$(date +%s)
    local canary=
    [ "$tool" = memcheck ] && canary=oob
    [ "$tool" = initcheck ] && canary=uninit
    if [ -n "$canary" ]; then  # a planted fault the tool must report
      PYTORCH_NO_CUDA_MEMORY_CACHING=1 timeout -k 10 90 "$sanitizer" --tool "$tool" "${filter[@]}" \
        python3 test/gpu/sanitize_cases.py --canary "$canary" > "$dir/canary_$canary.log" 2>&1
      grep -E "^=+ ERROR SUMMARY" "$dir/canary_$canary.log" | sed "s/^/canary $canary: /"
    fi
    flags=()
    [ "$tool" = initcheck ] && flags=(--size small --no-poison)
    seconds=$(( seconds - ($(date +%s) - t0) ))
    [ "$seconds" -lt 60 ] && seconds=60
    # Each torch allocation its own cudaMalloc: memcheck sees a tensor's bounds.
    PYTORCH_NO_CUDA_MEMORY_CACHING=1 timeout -k 10 "$(( seconds + 60 ))" "$sanitizer" \
      --tool "$tool" "${filter[@]}" --error-exitcode 99 \
      python3 test/gpu/sanitize_cases.py "${flags[@]}" ${SANITIZE_FULL:+--full} \
      ${SANITIZE_ARGS:-} --max-seconds "$(( seconds - 20 ))" --summary "$dir/$tool.json" > "$dir/$tool.log" 2>&1
    rc=$?
    echo "$rc" > "$dir/$tool.rc"
    echo $(( $(date +%s) - t0 )) > "$dir/$tool.seconds"
    grep -E "^(=+ (ERROR|RACECHECK) SUMMARY|sanitize_cases: )" "$dir/$tool.log" | tail -4
    echo "gpu_torch: sanitize $tool exit $rc in $(cat "$dir/$tool.seconds") s"
  done
  python3 test/gpu/sanitize_cases.py --report "$dir" --tools "$tools" \
    --out "$results/sanitize_summary.md"
}

# The soak stage (docs/testing.md): one process, then two sharing the GPU.
run_soak() {
  local dir=$results rc=0 seconds pids=() tag
  seconds=$(( $(left) - 30 ))
  [ -n "${SOAK_SECONDS:-}" ] && [ "$SOAK_SECONDS" -lt "$seconds" ] && seconds=$SOAK_SECONDS
  # The single run may use two thirds of what is left, the shared run the rest.
  timeout "$(( seconds * 2 / 3 + 30 ))" python3 test/gpu/soak.py \
    --calls "${SOAK_CALLS:-1000000}" --max-seconds "$(( seconds * 2 / 3 ))" \
    --out "$dir" --tag single > "$dir/soak_single.log" 2>&1 || rc=1
  tail -n 14 "$dir/soak_single.log"
  seconds=$(( $(left) - 20 ))
  if [ "$seconds" -lt 30 ]; then
    echo "gpu_torch: no time left for the shared soak" >&2; return 1
  fi
  for tag in shared_a shared_b; do
    timeout "$(( seconds + 15 ))" python3 test/gpu/soak.py --shared \
      --calls "${SOAK_SHARED_CALLS:-250000}" --max-seconds "$seconds" \
      --out "$dir" --tag "$tag" > "$dir/soak_$tag.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  tail -n 8 "$dir/soak_shared_a.log" "$dir/soak_shared_b.log"
  return "$rc"
}
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
    local)
      PYTHONPATH=$PWD/python:$PWD/bench timeout "$(left)" python3 bench/bench_local.py \
        --out "$results" > "$results/local.log" 2>&1 || status=1
      tail -30 "$results/local.log"
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
      # nano-vllm's own dependencies, offline (scripts/e2e/site.sh).
      source scripts/e2e/site.sh
      install_e2e_site
      export PYTHONPATH=$PYTHONPATH:$site
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
    sanitize)
      run_sanitize || status=1
      ;;
    soak)
      run_soak || status=1
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
