#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds
# (default 60) from its seed corpus in fuzz/corpus/<target>/ (or <name>/ for <name>_fuzz). Exits non-zero on
# the first crash, leak or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DTALKIE_FUZZ=ON -DTALKIE_BUILD_TESTS=OFF -DTALKIE_BUILD_BENCH=OFF >/dev/null
targets=$(for src in fuzz/*_fuzz.cpp; do basename "$src" .cpp; done)
cmake --build build-fuzz -j"$(nproc)" --target $targets
for src in fuzz/*_fuzz.cpp; do
  target="$(basename "$src" .cpp)"
  work="$(mktemp -d)"
  # Seeds live in fuzz/corpus/<target> or fuzz/corpus/<target without _fuzz>.
  for seeds in "fuzz/corpus/$target" "fuzz/corpus/${target%_fuzz}"; do
    if [ -d "$seeds" ]; then cp -r "$seeds/." "$work/"; fi
  done
  echo "-- $target: ${seconds}s"
  build-fuzz/"$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$work" 2>&1 | tail -4
  rm -rf "$work"
done
