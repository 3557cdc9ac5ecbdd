#!/usr/bin/env bash
# Sets up, builds, and runs every test that needs no GPU (lit + GoogleTest via ctest, the
# runtime's build and host tests without the compiler, then the Python package's CPU
# tests, the kernels through the CPU emulator (test/emu), the style gate
# (scripts/check_format.sh), and the tests again on the installed wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
cmake --build build --target mlir-doc >/dev/null
ctest --test-dir build --output-on-failure -j "$(nproc)"
# The runtime side without the compiler (-DATTN_BUILD_COMPILER=OFF; libattnrt, its host
# tests, attn-overhead) in build-nocompiler/, with the LLVM and MLIR packages made
# unfindable (finding either is then an error) and no LLVM or MLIR path allowed in any
# compile, link or test command; then its ctest (about 25 s fresh on 2 cores).
start=$(date +%s)
nocompiler=build-nocompiler
env -u CMAKE_PREFIX_PATH cmake -G Ninja -S . -B "$nocompiler" -DCMAKE_BUILD_TYPE=Release \
  -DATTN_BUILD_COMPILER=OFF -DLLVM_DIR=/nonexistent -DMLIR_DIR=/nonexistent \
  -DCMAKE_DISABLE_FIND_PACKAGE_LLVM=ON -DCMAKE_DISABLE_FIND_PACKAGE_MLIR=ON \
  --no-warn-unused-cli >/dev/null
# (The checkout's own path is left out: it may contain either word.)
if find "$nocompiler" \( -name build.ninja -o -name compile_commands.json -o -name CTestTestfile.cmake \) \
     -exec sed "s#$(pwd -P)##g" {} + | grep -Ei 'llvm-[0-9]|/llvm|mlir'; then
  echo "test: the build without the compiler names LLVM or MLIR (above)" >&2
  exit 1
fi
cmake --build "$nocompiler"
ctest --test-dir "$nocompiler" --output-on-failure -j "$(nproc)" >"$nocompiler/ctest.log" ||
  { cat "$nocompiler/ctest.log"; exit 1; }
grep 'tests passed' "$nocompiler/ctest.log"
echo "test: the runtime built and tested without the compiler in $(( $(date +%s) - start )) s"
# The Python package: argument checks, the torch backend against float64, the ctypes
# layout (makes build/pyvenv with torch once: about 75 s, then about 5 s).
./test/python/run.sh
# The kernels attn-lower-to-gpu emits, run on the CPU by test/emu/kernel_emu.py
# against float64: prefill and the CUDA-core decode (the GPU suites' kernels,
# the emulator's check) and the tensor-core decode (decode-mma). About 5 s.
build/pyvenv/bin/python -m pytest -q -p no:cacheprovider test/emu
# The style gate: clang-format over the C++ sources, black over the Python (its venv's).
./scripts/check_format.sh
# The wheels (dist/, as ./scripts/build.sh writes them): built, checked by auditwheel,
# installed offline into a fresh venv and tested from outside the checkout.
./scripts/wheels.sh
./test/python/run.sh --wheels
