#!/usr/bin/env bash
# Sets up, builds, and runs every test that needs no GPU (lit + GoogleTest via ctest,
# then the Python package's CPU tests, on the checkout and on the installed wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
cmake --build build --target mlir-doc >/dev/null
ctest --test-dir build --output-on-failure -j "$(nproc)"
# The Python package: argument checks, the torch backend against float64, the ctypes
# layout (makes build/pyvenv with torch once: about 75 s, then about 5 s).
./test/python/run.sh
# The wheels (dist/, as ./scripts/build.sh writes them): built, checked by auditwheel,
# installed offline into a fresh venv and tested from outside the checkout.
./scripts/wheels.sh
./test/python/run.sh --wheels
