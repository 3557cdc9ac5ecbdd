#!/usr/bin/env bash
# Builds the wheels into dist/ from the built runtime (build/lib/libattnrt.so, the kernel
# pack inside): attn_kernels (py3-none-manylinux_2_N_x86_64: the library and the Python
# package) and the flash_attn shim (py3-none-any), through setuptools' PEP 517 backend,
# offline; then checks with auditwheel that the platform tag is the one the library's
# symbol versions allow. Makes build/wheelvenv (setuptools, auditwheel) once.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/lib/libattnrt.so ] || { echo "wheels: no build/lib/libattnrt.so: run ./scripts/build.sh" >&2; exit 1; }
version=$(cat VERSION)
grep -q "^## $version\b" CHANGELOG.md ||
  { echo "wheels: CHANGELOG.md has no '## $version' heading (VERSION says $version)" >&2; exit 1; }
venv=build/wheelvenv
if ! "$venv/bin/python" -c "import setuptools, auditwheel" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "setuptools>=70.1" auditwheel
fi
start=$(date +%s)
mkdir -p dist
rm -rf build/python dist/attn_kernels-*.whl dist/attn_kernels_flash_attn_shim-*.whl
"$venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation \
  --no-index --wheel-dir dist ./python ./python/flash_attn_shim
wheel=$(ls dist/attn_kernels-*.whl)
# "... is consistent with the following platform tag: "manylinux_2_17_x86_64"."
report=$("$venv/bin/auditwheel" show "$wheel")
echo "$report" | sed 's/^/auditwheel: /'
policy=$(echo "$report" | tr -d '\n' | sed -n 's/.*following platform tag: *"\([^"]*\)".*/\1/p')
case $(basename "$wheel") in
  *"-$policy"[.-]*) ;;
  *) echo "wheels: $wheel is tagged differently from auditwheel's \"$policy\"" >&2; exit 1 ;;
esac
for file in dist/attn_kernels*.whl; do
  bytes=$(stat -c %s "$file")
  [ "$bytes" -le $((40 * 1024 * 1024)) ] || { echo "wheels: $file is $bytes bytes, over 40 MiB" >&2; exit 1; }
  echo "wheel: $file, $bytes bytes ($(awk "BEGIN { printf \"%.1f\", $bytes / 1048576 }") MiB)"
done
echo "wheels: built and checked in $(( $(date +%s) - start )) s"
