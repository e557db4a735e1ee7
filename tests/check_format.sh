#!/usr/bin/env bash
# check_format.sh: every C source and header of otd is clang-format clean
# (.clang-format at the top of the tree). Registered as the CTest test
# `format`; prints the files that differ and how to fix them.
#
#   bash tests/check_format.sh [SOURCE_DIR]
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"
fmt=${CLANG_FORMAT:-clang-format}
command -v "$fmt" >/dev/null || { echo "format: $fmt not found (jobs/setup.sh installs it)"; exit 1; }
mapfile -t files < <(find src include tests -name '*.[ch]' | sort)
bad=()
for f in "${files[@]}"; do
  "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'format: %d of %d C files differ from .clang-format:\n' "${#bad[@]}" "${#files[@]}"
  printf '  %s\n' "${bad[@]}"
  printf 'fix with: clang-format -i %s\n' "${bad[*]}"
  exit 1
fi
echo "format: ${#files[@]} C files clang-format clean"
