#!/usr/bin/env bash
# The Python package's CPU tests (no GPU): makes build/pyvenv once (torch, numpy, pytest;
# the CPU wheel index where it is reachable, else PyPI's wheel), then runs pytest on the
# checkout's python/.
#
#   test/python/run.sh [pytest args]            the checkout's attn_kernels
#   test/python/run.sh --wheels [pytest args]   the wheels in dist/ (scripts/wheels.sh),
#       installed offline (--no-index) into a fresh venv, build/wheeltest, that sees no
#       other package than build/pyvenv's (torch, numpy, pytest: a .pth file, so torch is
#       not installed twice); the tests then run from a folder outside the checkout
#       against the installed copy (ATTN_TEST_INSTALLED=1), and `python -m attn_kernels`
#       must report the bundled library and its pack, and no GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=build/pyvenv
if ! "$venv/bin/python" -c "import numpy, pytest, torch, black" 2>/dev/null; then
  start=$(date +%s)
  python3 -m venv "$venv"
  pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
  "${pip[@]}" --retries 0 --timeout 10 torch --index-url https://download.pytorch.org/whl/cpu \
    2>/dev/null || "${pip[@]}" torch
  # black: the Python half of scripts/check_format.sh, pinned so that its style holds.
  "${pip[@]}" numpy pytest "black==26.10.1"
  echo "test/python: made $venv in $(( $(date +%s) - start )) s"
fi
pytest=(-m pytest -q -p no:cacheprovider)
if [ "${1:-}" != --wheels ]; then
  exec "$venv/bin/python" "${pytest[@]}" test/python "$@"
fi
shift

start=$(date +%s)
repo=$PWD
fresh=$repo/build/wheeltest
rm -rf "$fresh"
# No pip or setuptools of its own (they would shadow build/pyvenv's, which torch
# needs): build/pyvenv's pip installs into it.
"$venv/bin/python" -m venv --without-pip "$fresh"
purelib='import sysconfig; print(sysconfig.get_paths()["purelib"])'
"$venv/bin/python" -c "$purelib" >"$("$fresh/bin/python" -c "$purelib")/attn_pyvenv.pth"
"$venv/bin/python" -m pip --python "$fresh/bin/python" install -q --disable-pip-version-check \
  --no-index --find-links "$repo/dist" attn-kernels attn-kernels-flash-attn-shim
installed=$("$fresh/bin/python" -c "$purelib")
outside=$(mktemp -d)
trap 'rm -rf "$outside"' EXIT
cd "$outside"
env -u ATTN_LIB -u ATTN_PACK_DIR -u ATTN_BACKEND ATTN_TEST_INSTALLED=1 \
  "$fresh/bin/python" "${pytest[@]}" "$repo/test/python" "$@"
report=$(env -u ATTN_LIB -u ATTN_PACK_DIR "$fresh/bin/python" -m attn_kernels)
echo "$report"
for expected in "library   $installed/attn_kernels/libattnrt.so" "pack      embedded" "GPU       none"; do
  grep -qF -- "$expected" <<<"$report" ||
    { echo "test/python: python -m attn_kernels does not say '$expected'" >&2; exit 1; }
done
shim=$("$fresh/bin/python" -c "import flash_attn, attn_kernels; print(flash_attn.flash_attn_varlen_func is attn_kernels.flash_attn_varlen_func, flash_attn.__file__)")
[[ $shim == "True $installed/"* ]] || { echo "test/python: the flash_attn shim is not the installed one: $shim" >&2; exit 1; }
echo "test/python: the wheels installed and tested outside the checkout in $(( $(date +%s) - start )) s"
