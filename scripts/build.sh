#!/usr/bin/env bash
# Sets up a fresh machine, builds everything, and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
cmake --build build --target mlir-doc >/dev/null
# The main job: compile the example problem through the attn pipeline.
build/bin/attn-opt examples/qwen3_decode.mlir
