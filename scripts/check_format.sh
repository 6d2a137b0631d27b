#!/usr/bin/env bash
# Every C++/CUDA file of the project as .clang-format wants it (Debian 12's clang-format 14; a
# ctest test and CI run this). `scripts/check_format.sh --fix` rewrites the files instead.
# Exit 77 (ctest: skipped) where clang-format 14 is missing: another version formats differently.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=""
for c in clang-format-14 clang-format; do
  if command -v "$c" > /dev/null && "$c" --version | grep -q "version 14\."; then cf=$c; break; fi
done
if [ -z "$cf" ]; then
  echo "check_format: clang-format 14 not found (scripts/install_deps.sh installs it); skipped"
  exit 77
fi
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' '*.h')
if [ "${1:-}" = "--fix" ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
if ! "$cf" --dry-run --Werror "${files[@]}" 2> /tmp/check_format.$$; then
  grep -E "^[^ ].*: (error|warning):" /tmp/check_format.$$ | cut -d: -f1 | sort -u |
    sed 's/^/  not formatted: /'
  rm -f /tmp/check_format.$$
  echo "check_format: run scripts/check_format.sh --fix (clang-format 14, .clang-format)"
  exit 1
fi
rm -f /tmp/check_format.$$
echo "check_format: ${#files[@]} files formatted"
