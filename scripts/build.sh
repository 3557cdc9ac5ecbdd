#!/usr/bin/env bash
# Sets up a fresh machine, builds everything, runs the main job, and writes the wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
# The main job is part of the build: attn-pack writes the kernel pack for sm_89
# and sm_90 (PTX + cubins + manifests) to build/attn_pack, which libattnrt embeds.
cmake --build build
cmake --build build --target mlir-doc >/dev/null
grep -c '^name=' build/attn_pack/sm_89/manifest.txt build/attn_pack/sm_90/manifest.txt |
  sed 's/^/kernels in /'
# dist/: the attn_kernels wheel (libattnrt with the pack inside) and the flash_attn shim's.
./scripts/wheels.sh
