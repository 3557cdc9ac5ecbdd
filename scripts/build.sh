#!/usr/bin/env bash
# Sets up a fresh machine, builds everything, and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
cmake --build build --target mlir-doc >/dev/null
# The main job: the kernel pack for sm_89 and sm_90 (PTX + cubins + manifests).
build/bin/attn-pack -o build/attn_pack
