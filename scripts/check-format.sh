#!/usr/bin/env bash
# Fails (exit 1) when a C++ file under src/ include/ tests/ bench/ fuzz/ python/
# examples/ differs from what clang-format makes of it (.clang-format), and
# names the files. Fix with: clang-format -i <file>...
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
command -v "$CLANG_FORMAT" >/dev/null || { echo "check-format: $CLANG_FORMAT not found" >&2; exit 1; }
bad=()
while IFS= read -r -d '' f; do
  if ! "$CLANG_FORMAT" --style=file "$f" | cmp -s - "$f"; then bad+=("$f"); fi
done < <(find src include tests bench fuzz examples python -type f \( -name '*.cpp' -o -name '*.h' \) -print0 | sort -z)
if ((${#bad[@]})); then
  echo "check-format: ${#bad[@]} file(s) not formatted as .clang-format says:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix with: $CLANG_FORMAT -i <file>..." >&2
  exit 1
fi
echo "check-format: all files formatted"
