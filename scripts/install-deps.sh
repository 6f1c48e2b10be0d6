#!/usr/bin/env bash
# Installs the Debian packages talkie.cpp needs to build, test, benchmark and fuzz.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
  g++ cmake ninja-build pkg-config ccache \
  libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev libpcre2-dev \
  libhwy-dev libomp-dev libcpp-httplib-dev libedit-dev zlib1g-dev \
  clang libclang-rt-14-dev clang-format \
  pybind11-dev python3-dev python3-numpy python3-pytest python3-matplotlib
# node + npm for the OpenAI Node client test (tests/server/openai_client);
# Debian's packages only where the machine has no node of its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  $SUDO apt-get install -y --no-install-recommends nodejs npm
fi
