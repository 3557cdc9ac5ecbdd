#!/usr/bin/env bash
# Downloads the wheels nano-vllm needs beyond torch and triton (transformers, xxhash and
# theirs) for the GPU machine's Python (3.12, x86_64 manylinux) into .whl/e2e/
# (git-ignored), which scripts/e2e/site.sh installs there offline. Those the machine
# usually has with torch go into .whl/e2e/fallback/, installed only where missing;
# numpy is left out (torch's machine has it), so the folder stays small enough to
# carry (about 24 MB).
#
#   scripts/e2e/fetch_wheels.sh [PYTHON_VERSION]      (default 3.12)
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${1:-3.12}
rm -rf .whl/e2e
mkdir -p .whl/e2e/fallback
python3 -m pip download -q --only-binary=:all: --python-version "$version" \
  --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  -d .whl/e2e "transformers>=4.51,<5" xxhash
for name in filelock fsspec typing_extensions packaging; do
  mv .whl/e2e/"$name"-*.whl .whl/e2e/fallback/
done
rm -f .whl/e2e/numpy-*.whl
du -sh .whl/e2e
