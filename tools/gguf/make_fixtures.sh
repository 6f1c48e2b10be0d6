#!/usr/bin/env bash
# Regenerates tests/data/gguf/: GGUF copies of the `tiny` fixture model written
# with llama.cpp's own gguf-py package (file format, Q8_0 / Q4_0 quantizers),
# taken from the llama.cpp source that ships in the npm package node-llama-cpp
# (llama/gitRelease.bundle). Needs npm, git, /usr/bin/python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${NODE_LLAMA_CPP_VERSION:-3.21.1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tools/llama_cpp_source.sh "$work"
tmp="$work/out"
mkdir -p "$tmp"
PYTHONPATH="$work/llama.cpp/gguf-py" /usr/bin/python3 tools/gguf/make_fixtures.py \
  tests/data/model/models/tiny "$tmp"
for t in bf16 q8_0 q4_0; do cp "$tmp/tiny-$t.gguf" tests/data/gguf/; done
echo "tests/data/gguf/ regenerated from node-llama-cpp@$version"
