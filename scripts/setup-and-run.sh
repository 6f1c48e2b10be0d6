#!/usr/bin/env bash
# First command after cloning: install dependencies, build, and run the main
# job - generate text with the default model bundled in models/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/talkie generate "And it came to pass, when the king" -n 64 "$@"
