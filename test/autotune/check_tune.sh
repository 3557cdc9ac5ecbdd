#!/usr/bin/env bash
# attn-tune end to end on the host: bundle, pruning reasons, resume, ingest of
# timings, and attn-pack building from the table it wrote.
# Usage: check_tune.sh <attn-tune> <attn-pack> <work dir>
set -euo pipefail
tune=$1 pack=$2 work=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work" && mkdir -p "$work/tables"
cp "$src/autotune/tables/sm_89.json" "$work/tables/sm_89.json"
"$tune" --target sm_89 --bundle "$work/bundle" --table "$work/tables/sm_89.json" > "$work/first.log"
grep -q "decode_bf16_d128_g2_paged_causal_n128_s3_t128: pruned (.*B per block on sm_89)" "$work/first.log"
grep -q "^\[17/17 .*candidates for sm_89" "$work/first.log" || grep -q "17 candidates for sm_89" "$work/first.log"
"$tune" --target sm_89 --bundle "$work/bundle" --table "$work/tables/sm_89.json" > "$work/second.log"
[ "$(grep -c '(resumed)' "$work/second.log")" = 17 ]
# Timings that favour decode block_n 32, stages 2 and prefill 64 x 32, 3 stages.
python3 - "$work/bundle" "$src/autotune/workloads.json" <<'PY'
import json, sys
bundle, workloads = sys.argv[1], json.load(open(sys.argv[2]))["workloads"]
cands = json.load(open(f"{bundle}/candidates.json"))["candidates"]
times = {}
for c in cands:
    if not c["pack"]:
        continue
    k = c["knobs"]
    best = (k["block_n"], k["stages"]) == ((32, 2) if c["id"].startswith("decode") else (32, 3))
    times[c["id"]] = {w["name"]: 1.0 if best else 2.0 for w in workloads
                      if c["id"].startswith(w["op"])}
json.dump({"gpu": "test GPU", "driver": "1", "date": "2026-01-01", "timings": times},
          open(f"{bundle}/timings.json", "w"))
PY
"$tune" --target sm_89 --bundle "$work/bundle" --table "$work/tables/sm_89.json" \
  --ingest "$work/bundle/timings.json" --report "$work/report.md" > "$work/ingest.log"
grep -q '"method": "measured"' "$work/tables/sm_89.json"
grep -q '"gpu": "test GPU"' "$work/tables/sm_89.json"
grep -q "decode_bf16_d128_g2_paged_causal -> decode_bf16_d128_g2_paged_causal_n32_s2_t128" "$work/ingest.log"
grep -q "(b) 4 x 4096 | 2.000 | 1.000 | 2.00x" "$work/report.md"
"$pack" --target sm_89 --tables "$work/tables" -o "$work/pack" > "$work/pack.log"
m="$work/pack/sm_89/manifest.txt"
grep -q "name=attn_decode_bf16_d128_g2_paged_causal .* block_n=32 stages=2 " "$m"
grep -q "name=attn_decode_bf16_d128_g4_paged_causal .* block_n=64 stages=3 " "$m"
grep -q "name=attn_prefill_bf16_d128_contig_causal .* block_m=64 block_n=32 stages=3 " "$m"
grep -q "name=attn_prefill_f16_d64_contig_full .* block_m=128 block_n=32 stages=2 " "$m"
echo "check_tune: ok"
