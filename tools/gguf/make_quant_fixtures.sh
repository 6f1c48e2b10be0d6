#!/usr/bin/env bash
# Regenerates tests/data/gguf/quant/: the `small` fixture model as GGUF files
# quantized by llama.cpp's own llama-quantize (Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K,
# Q5_K, Q6_K with --pure, and the Q4_K_M / Q5_K_M mixes), llama.cpp's logits
# for each file (tools/gguf/llama_logits.cpp, built against llama.cpp's
# libllama), and ggml-blocks.gguf, random blocks with gguf-py's numpy
# dequantization of them (make_block_fixture.py), and llama.cpp's logits for
# talkie's own GGUF output (tests/data/gguf/export). llama.cpp is the source in
# the npm package node-llama-cpp (tools/llama_cpp_source.sh).
#   tools/gguf/make_quant_fixtures.sh [WORK_DIR]
# WORK_DIR keeps the checkout and build between runs (default: a temporary
# folder); JOBS sets the build's parallelism (default 2). Needs npm, git,
# cmake, ninja, g++ and /usr/bin/python3 with numpy. The logits depend on the
# CPU's SIMD paths in llama.cpp (GGML_NATIVE): the committed ones were made on
# an AVX-512 x86-64 (docs/io.md has the figures).
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${NODE_LLAMA_CPP_VERSION:-3.21.1}"
if [ $# -ge 1 ]; then
  work="$1"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
work="$(cd "$work" && pwd)"
[ -d "$work/llama.cpp" ] || tools/llama_cpp_source.sh "$work"
src="$work/llama.cpp"

# llama-quantize and libllama only.
cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF >/dev/null
ninja -C "$src/build" -j "${JOBS:-2}" llama-quantize >/dev/null
b="$src/build"
g++ -std=c++17 -O2 -I"$src/include" -I"$src/ggml/include" tools/gguf/llama_logits.cpp \
  "$b/src/libllama.a" "$b/ggml/src/libggml.a" "$b/ggml/src/libggml-cpu.a" \
  "$b/ggml/src/libggml-base.a" -lpthread -ldl -lm -o "$work/llama_logits"

tmp="$work/out"
mkdir -p "$tmp"
export PYTHONPATH="$src/gguf-py"
/usr/bin/python3 tools/gguf/make_fixtures.py tests/data/model/models/small "$tmp" bf16
out=tests/data/gguf/quant
mkdir -p "$out"
# The reference fixture's 17-token case.
ids="$(/usr/bin/python3 -c '
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["input_ids"]
lo, hi = t["data_offsets"]
print(",".join(str(int(i)) for i in np.frombuffer(b[8 + n + lo:8 + n + hi], dtype=np.int64)))
' tests/data/model/expected/small/len17.safetensors)"
for t in Q4_1 Q5_0 Q5_1 IQ4_NL Q4_K Q5_K Q6_K Q4_K_M Q5_K_M; do
  lower="$(echo "$t" | tr '[:upper:]' '[:lower:]')"
  pure=--pure
  case "$t" in *_M) pure= ;; esac
  "$b/bin/llama-quantize" $pure "$tmp/small-bf16.gguf" "$out/small-$lower.gguf" "$t" >"$tmp/$t.log" 2>&1
  "$work/llama_logits" "$out/small-$lower.gguf" "$ids" "$out/small-$lower.llama-logits.safetensors"
done
/usr/bin/python3 tools/gguf/make_block_fixture.py "$out/ggml-blocks.gguf"
# llama.cpp's logits for `small` as talkie itself writes it (talkie quantize
# --out FILE.gguf, BF16 and Q8_0; needs build/talkie): tests/data/gguf/export.
mkdir -p tests/data/gguf/export
for t in bf16 q8; do
  build/talkie quantize -m tests/data/model/models/small --type "$t" --out "$tmp/export-$t.gguf" --force
  "$work/llama_logits" "$tmp/export-$t.gguf" "$ids" "tests/data/gguf/export/small-$t.llama-logits.safetensors"
done
echo "$out regenerated with node-llama-cpp@$version's llama.cpp"
