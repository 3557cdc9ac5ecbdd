#!/usr/bin/env bash
# Writes an arm's sm_90 pack for call.sh: `attn-pack --target sm_90` (default
# build/bin/attn-pack, from the tree the arm is) into .device/packs/ARM/sm_90
# (about 8 minutes on 2 cores), then packs every arm there into
# .device/packs.tar.xz (about 9 MB an arm: 9,200,984 bytes for the patched one).
#   bash bench/results/decode_patches_2026-12-08/make_packs.sh ARM [ATTN_PACK]
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
arm=${1:?arm name}
pack=${2:-build/bin/attn-pack}
rm -rf ".device/packs/$arm"
mkdir -p .device/packs
"$pack" -o ".device/packs/$arm" --target sm_90 | tail -1
tar -C .device/packs -c . | xz -T2 -6 > .device/packs.tar.xz
ls -l .device/packs.tar.xz
