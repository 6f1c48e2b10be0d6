#!/usr/bin/env bash
# The `talkie` program and its server are built on the public API alone
# (issue #12): every file in src/cli/ and src/server/ may include only
# include/talkie/ headers, their own cli/ and server/ headers, and system or
# third-party headers -- nothing from the engine's internals in src/.
# Prints each offending include and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
offenders=$(grep -nE '^\s*#\s*include\s*"' src/cli/*.cpp src/cli/*.h src/server/*.cpp src/server/*.h |
  grep -vE '#\s*include\s*"(talkie|cli|server)/' || true)
if [ -n "$offenders" ]; then
  echo "src/cli and src/server must include only talkie/, cli/ and server/ headers; these do not:"
  echo "$offenders"
  exit 1
fi
echo "check-public-includes: src/cli and src/server include only the public API"
