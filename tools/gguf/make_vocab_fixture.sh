#!/usr/bin/env bash
# Regenerates tests/data/gguf/talkie-vocab-it.gguf (the tokenizer fixture's
# vocabulary with the IT special tokens as a vocab-only GGUF file, written as
# llama.cpp's converter writes Talkie's tokenizer) with llama.cpp's own gguf-py from the
# npm package node-llama-cpp. Needs npm, git, /usr/bin/python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${NODE_LLAMA_CPP_VERSION:-3.21.1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tools/llama_cpp_source.sh "$work"
PYTHONPATH="$work/llama.cpp/gguf-py" /usr/bin/python3 tools/gguf/make_vocab_fixture.py \
  tests/data/tokenizer/vocab.txt it tests/data/gguf/talkie-vocab-it.gguf
echo "tests/data/gguf/talkie-vocab-it.gguf regenerated from node-llama-cpp@$version"
