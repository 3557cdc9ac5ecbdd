#!/usr/bin/env bash
# Sets up, builds, and runs every test that needs no GPU (lit + GoogleTest via ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
cmake --build build --target mlir-doc >/dev/null
ctest --test-dir build --output-on-failure -j "$(nproc)"
