#!/usr/bin/env bash
# attn-tune end to end on the host: bundle (warps, G 8, split policies), pruning
# reasons, resume, the timing harness with a stand-in for the GPU (deadline,
# resume, the split packs), ingest of its timings (twice: the same table), and
# attn-pack building from the table it wrote.
# Usage: check_tune.sh <attn-tune> <attn-pack> <work dir>
set -euo pipefail
tune=$1 pack=$2 work=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work/tables" "$work/tables2"
# A table of the op defaults alone: the pack before tables existed.
cat > "$work/tables/sm_90.json" <<'JSON'
{"format": "attn-tune-table 1", "target": "sm_90",
 "provenance": {"method": "default", "notes": "check_tune.sh"},
 "entries": [
  {"op": "prefill", "block_m": 128, "block_n": 32, "stages": 2, "threads": 128},
  {"op": "decode", "block_n": 64, "stages": 3, "threads": 128}]}
JSON
cp "$work/tables/sm_90.json" "$work/tables2/sm_90.json"
"$tune" --target sm_90 --bundle "$work/bundle" --table "$work/tables/sm_90.json" > "$work/first.log"
log=$work/first.log
grep -q "decode_bf16_d128_g2_paged_causal_n128_s4_t128: pruned (.*B per block on sm_90)" "$log"
grep -q "decode_bf16_d128_g8_paged_causal_n64_s3_t128: pruned (attn_decode_bf16_d128_g8_paged_causal: spills .*(limit 0 B)).*\[baseline: today's table\]" "$log"
grep -q "decode_bf16_d128_g2_paged_causal_n32_s2_t256: ok" "$log"
grep -q "split_c8_k2048: ok \[split policy (8, 2048)" "$log"
grep -q "split_c4_k1024: ok .*\[baseline: today's table\]" "$log"
grep -q "65 candidates for sm_90 (56 kernel configurations, 9 split policies)" "$log"
"$tune" --target sm_90 --bundle "$work/bundle" --table "$work/tables/sm_90.json" > "$work/second.log"
[ "$(grep -c '(resumed)' "$work/second.log")" = 56 ]
python3 "$src/bench/tune_harness.py" "$work/bundle" --check > "$work/check.log"

# The harness with a stand-in for the GPU: timings that favour decode block_n 32,
# 2 stages, 128 threads, prefill 64 x 32, 3 stages, and the split policy (8, 512).
python3 - "$src/bench/tune_harness.py" "$work/bundle" <<'PY'
import importlib.util, json, pathlib, sys
spec = importlib.util.spec_from_file_location("tune_harness", sys.argv[1])
harness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)
bundle_dir = pathlib.Path(sys.argv[2])
calls = []

flaky = "decode_bf16_d128_g2_paged_causal_n128_s3_t256"

def fake_time(bundle_dir, bundle, c):
    calls.append(c["id"])
    if c["id"] == flaky and calls.count(flaky) == 1:
        return {}, ["exit 1: a GPU fault"]
    kind, k = harness.kind_of(c), c.get("knobs", {})
    if kind == "split":
        manifest = (harness.pack_dir(bundle_dir, bundle, c) / "manifest.txt").read_text()
        assert manifest.startswith(c["manifest_header"]), manifest
        assert "name=attn_decode_bf16_d128_g2_paged_causal op=decode" in manifest
        t = 1.0 if c["id"] == "split_c8_k512" else 2.0
    elif kind == "prefill":
        t = 1.0 if (k["block_m"], k["block_n"], k["stages"]) == (64, 32, 3) else 2.0
    else:
        t = 1.0 + (k["block_n"] != 32) + (k["stages"] != 2) + (k["threads"] != 128)
    return {w: t for w in c["workloads"]}, []

harness.time_candidate = fake_time
harness.gpu_facts = lambda: {"gpu": "test GPU", "driver": "1", "date": "2026-01-01"}
def run(*args):
    sys.argv = ["tune_harness.py", str(bundle_dir), *args]
    return harness.main()
assert run("--deadline", "1") == harness.EXIT_DEADLINE and not calls
assert run("--only", "split") == 0 and not calls  # the decode kernels come first
assert run() == 0
timings = json.loads((bundle_dir / "timings.json").read_text())
kernel = "decode_bf16_d128_g2_paged_causal_n32_s2_t128"
assert set(timings["split_kernel"].values()) == {kernel}, timings["split_kernel"]
assert flaky in timings["failures"] and flaky not in timings["timings"]
timed = len(calls)
assert run() == 0 and calls[timed:] == [flaky]  # the failed one again
assert run() == 0 and len(calls) == timed + 1  # all timed: nothing again
PY

for tables in tables tables2; do
  "$tune" --target sm_90 --bundle "$work/bundle" --table "$work/$tables/sm_90.json" \
    --ingest "$work/bundle/timings.json" --report "$work/report_$tables.md" > "$work/ingest_$tables.log"
done
cmp "$work/tables/sm_90.json" "$work/tables2/sm_90.json"
cmp "$work/report_tables.md" "$work/report_tables2.md"
table=$work/tables/sm_90.json
grep -q '"method": "measured"' "$table"
grep -q '"gpu": "test GPU"' "$table"
grep -q "decode_bf16_d128_g2_paged_causal -> decode_bf16_d128_g2_paged_causal_n32_s2_t128" "$work/ingest_tables.log"
grep -q "decode_split -> (8, 512) (split_c8_k512" "$work/ingest_tables.log"
grep -q "(b) 4 x 4096 | 2.000 | 1.000 | 2.00x" "$work/report_tables.md"
grep -q "split_c8_k512 (8, 512) \*\*tuned\*\*" "$work/report_tables.md"
python3 - "$table" "$work/bundle/candidates.json" "$work/ingest_tables.log" <<'PY'
import json, re, sys
table, bundle, log = (open(p).read() for p in sys.argv[1:])
split = json.loads(table)["decode_split"]
assert (split["ctas_per_sm"], split["min_keys_per_split"], split["source"]) == (8, 512, "measured"), split
assert "decode_bf16_d128_g2_paged_causal_n32_s2_t128" in split["note"], split
# G 8 takes a candidate that does not spill, and its entry is the same for
# every layout and mask.
g8 = re.search(r"decode_bf16_d128_g8_paged_causal -> (\S+)", log).group(1)
record = next(c for c in json.loads(bundle)["candidates"] if c["id"] == g8)
assert record["status"] == "ok" and record["kernels"][0]["spill_stores"] == 0, record
entry = next(e for e in json.loads(table)["entries"] if e.get("group") == 8)
assert "paged" not in entry and "causal" not in entry, entry
PY
read -r g8n g8s g8t < <(python3 - "$table" <<'PY'
import json, sys
e = next(e for e in json.load(open(sys.argv[1]))["entries"] if e.get("group") == 8)
print(e["block_n"], e["stages"], e["threads"])
PY
)
# The tuned head dims (the table's defaults do not fit the others' layouts).
"$pack" --target sm_90 --head-dims 64,128 --tables "$work/tables" -o "$work/pack" \
  > "$work/pack.log"
m="$work/pack/sm_90/manifest.txt"
head -1 "$m" | grep -q "split_ctas_per_sm=8 split_min_keys=512"
grep -q "name=attn_decode_bf16_d128_g2_paged_causal .* block_n=32 stages=2 threads=128 " "$m"
grep -q "name=attn_decode_bf16_d128_g4_paged_causal .* block_n=64 stages=3 " "$m"
for layout in paged_causal paged_full contig_causal contig_full; do
  grep -q "name=attn_decode_bf16_d128_g8_${layout} .* block_n=$g8n stages=$g8s threads=$g8t " "$m"
done
grep -q "name=attn_prefill_bf16_d128_contig_causal .* block_m=64 block_n=32 stages=3 " "$m"
grep -q "name=attn_prefill_f16_d64_contig_full .* block_m=128 block_n=32 stages=2 " "$m"

# sm_90a: the wgmma space at D 160, where two of its twelve tilings fit the 227 KB
# of shared memory. The spaces belong to their targets.
cp "$src/autotune/tables/sm_90a.json" "$work/tables/sm_90a.json"
! "$tune" --target sm_90a --space gpu --bundle "$work/bad" 2> "$work/bad.log"
grep -q "space gpu is for --target sm_89 or sm_90 (sm_90a's space is wgmma), got --target sm_90a" "$work/bad.log"
! "$tune" --target sm_90 --space wgmma --bundle "$work/bad" 2> "$work/bad.log"
grep -q "space wgmma is for --target sm_90a (sm_90a's space is wgmma), got --target sm_90" "$work/bad.log"
"$tune" --target sm_90a --space wgmma --head-dims 160 --max-prefill-spill-bytes 64 \
  --bundle "$work/wgmma" \
  --table "$work/tables/sm_90a.json" > "$work/wgmma.log"
log=$work/wgmma.log
grep -q "12 candidates for sm_90a (12 kernel configurations, 0 split policies): 2 ok, 10 pruned, 0 failed" "$log"
# Over the shared memory: pruned before ptxas (no registers known).
grep -q "prefill_bf16_d160_causal_m128_n128_s2_t384: pruned (attn_prefill_bf16_d160_contig_causal: shared memory [0-9]* B > 232448 B per block on sm_90a) \[0 regs" "$log"
grep -q "prefill_bf16_d160_causal_m128_n64_s2_t384: ok \[.*; 4 more of its entry: .*\[baseline: today's table\]" "$log"
# Each pack: the two timed kernels, and an sm_90 manifest of a header alone, which the
# runtime reads sm_90a's over.
d=$work/wgmma/prefill_bf16_d160_causal_m128_n64_s3_t384
[ "$(grep -c ' op=prefill .* tma=1 block_m=128 block_n=64 stages=3 threads=384 ' "$d/sm_90a/manifest.txt")" = 2 ]
[ "$(wc -l < "$d/sm_90/manifest.txt")" = 1 ]
grep -q "^attn-pack 1 target=sm_90 .* tune=prefill_bf16_d160_causal_m128_n64_s3_t384" "$d/sm_90/manifest.txt"
python3 "$src/bench/tune_harness.py" "$work/wgmma" --check > "$work/wgmma_check.log"
grep -q "2 to time (0 timed)" "$work/wgmma_check.log"

# The harness times each candidate with bench_prefill.py at D 160 (a stand-in for the
# subprocess, whose rows favour 3 stages) and names the rows as attn-tune derived them.
python3 - "$src/bench/tune_harness.py" "$work/wgmma" <<'PY'
import importlib.util, pathlib, subprocess, sys
spec = importlib.util.spec_from_file_location("tune_harness", sys.argv[1])
harness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(harness)
bench = {"a": "(a) 16 x 100-1024", "b": "(b) 4 x 4096", "c": "(c) 8 x 100-4096",
         "d": "(d) (c), half cached, page 256", "e": "(e) (d) with packed K/V",
         "f": "(f) 1 x 512 after 16384 cached", "g": "(g) 2 x 128 after 8192 cached"}

def fake_run(command, env, **kwargs):
    assert env["ATTN_TARGET"] == "sm_90a", env["ATTN_TARGET"]
    cid = command[command.index("--only-ours") + 1]
    assert command[command.index("--head-dim") + 1] == "160", command
    letters = command[command.index("--workloads") + 1]
    assert letters == "abcdefg", letters
    ms = 1.0 if "_s3_" in cid else 2.0
    rows = [f"| {cid} | {bench[x]} | {ms:.3f} ms | 100 TFLOP/s | 1.0e-03 |" for x in letters]
    return subprocess.CompletedProcess(command, 0, "\n".join(rows) + "\n", "")

harness.subprocess.run = fake_run
harness.gpu_facts = lambda: {"gpu": "test GPU", "driver": "1", "date": "2026-01-01"}
sys.argv = ["tune_harness.py", sys.argv[2]]
assert harness.main() == 0
PY
"$tune" --target sm_90a --bundle "$work/wgmma" --table "$work/tables/sm_90a.json" \
  --ingest "$work/wgmma/timings.json" > "$work/wgmma_ingest.log"
grep -q "prefill_bf16_d160_causal paged -> prefill_bf16_d160_causal_m128_n64_s3_t384" "$work/wgmma_ingest.log"
# A space without split policies says so in the table's provenance.
grep -q '"notes": "attn-tune --ingest: fastest unpruned candidate per kernel over its workloads (CUDA events, median); entries' \
  "$work/tables/sm_90a.json"
# Its entries name D and the layout alone: every dtype and mask of D 160 takes them.
"$pack" --target sm_90a --head-dims 160 --tables "$work/tables" -o "$work/pack90a" \
  > "$work/pack90a.log"
m="$work/pack90a/sm_90a/manifest.txt"
[ "$(grep -c ' op=prefill .* block_m=128 block_n=64 stages=3 threads=384 ' "$m")" = \
  "$(grep -c ' op=prefill ' "$m")" ]
grep -q "name=attn_prefill_f16_d160_paged_local " "$m"
echo "check_tune: ok"
