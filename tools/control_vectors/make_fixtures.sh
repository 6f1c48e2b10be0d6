#!/usr/bin/env bash
# Regenerates tests/data/control_vectors/ (see make_fixtures.py) with gguf-py
# from the llama.cpp source inside the npm package node-llama-cpp
# (llama/gitRelease.bundle). Needs npm, git, /usr/bin/python3 with numpy.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="${NODE_LLAMA_CPP_VERSION:-3.21.1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tools/llama_cpp_source.sh "$work"
mkdir -p tests/data/control_vectors
PYTHONPATH="$work/llama.cpp/gguf-py" /usr/bin/python3 tools/control_vectors/make_fixtures.py \
  tests/data/control_vectors
echo "tests/data/control_vectors/ regenerated with gguf-py from node-llama-cpp@$version"
