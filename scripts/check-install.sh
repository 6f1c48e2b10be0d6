#!/usr/bin/env bash
# Checks libtalkie as a user gets it: for a shared and a static build, runs the
# public-API tests, installs to a temporary prefix, checks the installed
# headers stand alone and pull in no internals (Highway, httplib, OpenMP, src/),
# then builds examples/ from outside the source tree with find_package (and
# minimal.cpp with pkg-config) and runs them, imports the installed Python
# package from another folder, and runs the installed `talkie` program (which
# links libtalkie.so in the shared variant).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for variant in static shared; do
  echo "-- $variant"
  shared=OFF
  if [ "$variant" = shared ]; then shared=ON; fi
  build="build-$variant"
  prefix="$work/prefix-$variant"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS="$shared" \
    -DTALKIE_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DTALKIE_PYTHON_INSTALL_DIR="$prefix/python" >/dev/null
  cmake --build "$build" -j"$(nproc)" --target talkie_lib talkie api_tests talkie_python
  ctest --test-dir "$build" -R '^Api' --output-on-failure
  cmake --install "$build" >/dev/null

  lib="$(find "$prefix" -name 'libtalkie.so*' -o -name 'libtalkie.a' | head -1)"
  case "$variant" in
    shared) [[ "$lib" == *.so* ]] || { echo "no libtalkie.so installed"; exit 1; }
            # Only the public API is exported: talkie:: names outside the internal
            # namespaces, plus the standard library's template instances.
            exported="$(nm -D --defined-only "$lib" | awk '{print $3}' \
              | grep -vE '^_ZN?K?S|^_ZNK?St|^_ZN9__gnu|^_ZT[ISV]S|^_ZT[ISV]N?9?__gnu' | c++filt)"
            named="$(echo "$exported" | sed -E 's/^(typeinfo name|typeinfo|vtable) for //')"
            bad="$(echo "$named" | grep -vE '^(talkie|std)::' || true)"
            bad+="$(echo "$named" | grep -E '^talkie::(io|ops|model|generate|tokenizer|api|server|cli)::' || true)"
            if [ -n "$bad" ]; then echo "libtalkie.so exports non-API symbols:"; echo "$bad" | head; exit 1; fi ;;
    static) [[ "$lib" == *.a ]] || { echo "no libtalkie.a installed"; exit 1; } ;;
  esac

  # Public headers: each compiles alone and includes only the standard library and talkie/.
  for h in "$prefix"/include/talkie/*.h; do
    if grep -E '^#include' "$h" | grep -vE '<[a-z_]+>|"talkie/' | grep -q .; then
      echo "$h includes something outside the standard library and talkie/:"
      grep -E '^#include' "$h"
      exit 1
    fi
    echo "#include <talkie/$(basename "$h")>" | g++ -std=c++20 -fsyntax-only -I"$prefix/include" -x c++ -
  done

  cmake -S "$root/examples" -B "$work/examples-$variant" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$work/examples-$variant"
  (cd "$work" && "$work/examples-$variant/minimal" | tee "$work/minimal.out")
  grep -q "finish:" "$work/minimal.out"
  (cd "$work" && "$work/examples-$variant/forward_batch" | tee "$work/forward.out")
  grep -q "next token" "$work/forward.out"
  # The installed Python package imports and finds the bundled model from elsewhere.
  (cd "$work" && PYTHONPATH="$prefix/python" /usr/bin/python3 -c \
    "import talkie; m = talkie.Model(); t = talkie.Tokenizer(m); print('python:', m, t.decode(m.generate([t.encode('It was')], max_new_tokens=8)[0]))")
  # The installed program finds its model beside it, too.
  "$prefix/bin/talkie" generate -n 8 --temperature 0 --quiet "It was" >/dev/null
  # The program is built on the public API: shared, it runs on libtalkie.so's
  # exported symbols alone.
  if [ "$variant" = shared ]; then
    [[ "$(ldd "$prefix/bin/talkie")" == *libtalkie.so* ]] || { echo "talkie does not link libtalkie.so"; exit 1; }
  fi

  if [ "$variant" = shared ]; then
    pc="$(dirname "$(find "$prefix" -name talkie.pc | head -1)")"
    g++ -std=c++20 "$root/examples/minimal.cpp" -o "$work/minimal-pc" \
      $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs talkie) -Wl,-rpath,"$(dirname "$lib")"
    "$work/minimal-pc" "" "The king" | grep -q "finish:"
  fi
done
echo "-- installed library checks passed"
