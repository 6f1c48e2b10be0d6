#!/usr/bin/env bash
# Checks out llama.cpp's source from the npm package node-llama-cpp
# (llama/gitRelease.bundle, a git bundle) into DIR/llama.cpp, for the fixture
# scripts that use its gguf-py. Needs npm and git.
#   tools/llama_cpp_source.sh DIR        (NODE_LLAMA_CPP_VERSION, default 3.21.1)
set -euo pipefail
dir="$1"
version="${NODE_LLAMA_CPP_VERSION:-3.21.1}"
cd "$dir"
npm pack "node-llama-cpp@$version" >/dev/null
tar xzf "node-llama-cpp-$version.tgz" package/llama/gitRelease.bundle
git clone -q package/llama/gitRelease.bundle llama.cpp
