#!/usr/bin/env bash
# The style gate: every tracked C++ source formatted as the repo's .clang-format says
# (Debian 12's clang-format 14), every tracked Python file as black says (the version
# test/python/run.sh installs into build/pyvenv). Prints the files that differ; fix with
#   clang-format -i <file>   and   build/pyvenv/bin/python -m black <file>
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
mapfile -t cpp < <(git ls-files '*.cpp' '*.h')
bad=()
for f in "${cpp[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "format: clang-format would change ${#bad[@]} C++ file(s):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  status=1
fi
mapfile -t py < <(git ls-files '*.py')
if ! build/pyvenv/bin/python -m black --check -q "${py[@]}"; then
  echo "format: black would change the Python file(s) above" >&2
  status=1
fi
[ $status -eq 0 ] && echo "format: ${#cpp[@]} C++ and ${#py[@]} Python files formatted"
exit $status
