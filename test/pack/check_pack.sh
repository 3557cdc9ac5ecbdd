#!/usr/bin/env bash
# Assembles every kernel's PTX of the kernel pack with ptxas for its target
# (sm_80: PTX only; sm_89, sm_90, sm_90a: with cubins), as many at once as
# there are cores; fails on any ptxas error or a manifest entry without its
# files.
#   check_pack.sh <attn-pack> <ptxas> <out> [<built pack>]
# Checks <built pack> (the build's, which libattnrt embeds) when it holds a
# pack, else builds one into <out> with attn-pack.
set -euo pipefail
attn_pack=$1 ptxas=$2 out=$3 built=${4:-}
if [ -n "$built" ] && [ -s "$built/sm_90/manifest.txt" ]; then
  out=$built
else
  rm -rf "$out"
  "$attn_pack" -o "$out" >/dev/null
fi
jobs=$(nproc 2>/dev/null || echo 2)
count=0
for target in sm_80 sm_89 sm_90 sm_90a; do
  manifest="$out/$target/manifest.txt"
  head -1 "$manifest" | grep -q "^attn-pack 1 target=$target compiler=attn-"
  if [ "$target" != sm_80 ]; then
    for ptx in "$out/$target"/*.ptx; do
      [ -s "${ptx%.ptx}.cubin" ] || { echo "missing cubin for $ptx"; exit 1; }
    done
  fi
  # xargs exits non-zero when any ptxas fails.
  printf '%s\0' "$out/$target"/*.ptx |
    xargs -0 -n 1 -P "$jobs" "$ptxas" -arch="$target" -o /dev/null
  count=$((count + $(ls "$out/$target"/*.ptx | wc -l)))
  # Every kernel the manifest names has its PTX.
  grep -o 'ptx=[^ ]*' "$manifest" | cut -d= -f2 | sort -u | while read -r f; do
    [ -s "$out/$target/$f" ] || { echo "manifest names missing $f"; exit 1; }
  done
done
# sm_90a's prefill kernels copy K/V by TMA: every one of its manifest's prefill
# lines says tma=1 (assembled above like every kernel).
manifest="$out/sm_90a/manifest.txt"
prefill=$(grep -c '^name=[^ ]* op=prefill ' "$manifest")
marked=$(grep -c '^name=[^ ]* op=prefill .* tma=1 ' "$manifest" || true)
[ "$prefill" -gt 0 ] && [ "$marked" = "$prefill" ] || {
  echo "$manifest: $marked of $prefill prefill kernels say tma=1"
  exit 1
}
# A decode entry's own split policy (decode_split) is on its kernels' lines
# (paged causal, G specialised), and only decode lines carry one.
table="$(dirname "$0")/../../autotune/tables/sm_90.json"
manifest="$out/sm_90/manifest.txt"
python3 - "$table" "$manifest" <<'PY'
import json, re, sys
table, manifest = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
lines = {l.split()[0][5:]: l for l in manifest.splitlines()[1:] if l.startswith("name=")}
checked = 0
for e in table["entries"]:
    if "decode_split" not in e:
        continue
    s = e["decode_split"]
    for dtype in [e["dtype"]] if "dtype" in e else ["bf16", "f16"]:
        name = f"attn_decode_{dtype}_d{e['head_dim']}_g{e['group']}_paged_causal"
        want = f" split_ctas_per_sm={s['ctas_per_sm']} split_min_keys={s['min_keys_per_split']} "
        if want not in lines[name]:
            sys.exit(f"{name}: its line lacks{want}")
        checked += 1
stray = [n for n, l in lines.items() if " split_" in l and " op=decode " not in l]
if stray or not checked:
    sys.exit(f"split policies on non-decode lines {stray[:3]}, or none checked")
print(f"{checked} decode kernels carry their entry's split policy")
PY
echo "assembled $count kernel modules with ptxas ($out)"
