#!/usr/bin/env bash
# scripts/test-cross.sh aarch64: cross-compiles talkie.cpp for aarch64 Linux
# with Debian's cross toolchain and arm64 packages, then, under qemu-user:
#   - the kernel tests (ops_tests) on three emulated CPUs: "max" (dotprod,
#     i8mm, bf16), cortex-a76 (dotprod) and cortex-a53 (plain NEON);
#   - the tokenizer tests and most model tests on "max" (the reference
#     comparison on the short cases, invariance on the tiny models, hooks,
#     quantization, loading: the long cases take minutes each under
#     emulation), and the q8 / q4 invariance tests again on cortex-a53;
#   - `talkie forward` on the bundled model, bf16 and q8, exact and fast
#     policies, whose logits must be the same bytes on "max" and cortex-a53.
# The reader, generation, server, API and CLI suites are not run under
# emulation (no architecture-specific code, and they would take most of CI's
# time); they run natively. Under emulation the whole model suite passed once
# too (139 tests, 12 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != aarch64 ]; then
  echo "usage: scripts/test-cross.sh aarch64" >&2
  exit 2
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null ||
   [ ! -e /usr/lib/aarch64-linux-gnu/libhwy.so ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends g++-aarch64-linux-gnu qemu-user \
    libhwy-dev:arm64 libgtest-dev:arm64 libpcre2-dev:arm64 zlib1g-dev:arm64 \
    libcpp-httplib-dev:arm64 libgomp1:arm64 nlohmann-json3-dev libcli11-dev
fi

build=build-aarch64
cmake -S . -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DTALKIE_BUILD_BENCH=OFF -DTALKIE_BUILD_PYTHON=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target ops_tests model_tests tokenizer_tests talkie
# No x86 instruction may reach the aarch64 objects (the x86 kernels live in
# src/*/x86/ and are not compiled here).
if find "$build" -name '*.o' -path '*/x86/*' | grep -q .; then
  echo "x86 sources were compiled for aarch64" >&2
  exit 1
fi

gtest() {  # gtest CPU PROGRAM ARGS...: a test program under qemu
  echo "-- QEMU_CPU=$1 ${*:2}"
  QEMU_CPU="$1" qemu-aarch64 "${@:2}" --gtest_brief=1
}
for cpu in max cortex-a76 cortex-a53; do gtest "$cpu" "$build"/ops_tests; done
# The long cases skipped here run natively.
slow='*_fast:*ReferenceTest.MatchesReference/*_len77:*ReferenceTest.MatchesReference/*_len17'
slow+=':*ReferenceTest.MatchesReference/small*batch*:*ReferenceTest.MatchesReference/wide_head_batch*'
slow+=':EveryFixtureModel/InvarianceTest.*/small*:EveryFixtureModel/InvarianceTest.*/wide_head'
slow+=':EvaluationTest.*:QuantizeTest.QuantizedModelsLoadAndStayCloseToTheOriginal'
slow+=':QuantizeTest.FastPolicyStaysCloseToExact:FixtureModels/HookInvarianceTest.*/wide_head'
gtest max "$build"/tokenizer_tests
gtest max "$build"/model_tests --gtest_filter="-$slow"
gtest cortex-a53 "$build"/model_tests \
  --gtest_filter='QuantizeTest.QuantizedModelsKeepBitwiseInvariance:*InvarianceTest.*/tiny*'

# One build, two CPUs: the fast policy's int8 kernels differ (i8mm on "max",
# plain NEON on cortex-a53) and the exact kernels are the same NEON code, so
# the logits must be the same bytes. (Across instruction sets the exact
# kernels' lane counts differ, so x86 and aarch64 agree within the reference
# tolerance, which model_tests checks, not bit for bit.)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
arm() { QEMU_CPU="$1" qemu-aarch64 "$build"/talkie "${@:2}"; }
arm max quantize --type q8 -o "$work/q8" --threads 2 >/dev/null
ids=1,17,300,4000,25,9,1024,77,3,500,2048,12,640,33,4100,7
for model in models/talkie-tiny-1930 "$work/q8"; do
  for policy in exact fast; do
    for cpu in max cortex-a53; do
      arm "$cpu" forward -m "$model" --ids "$ids" --policy "$policy" --threads 2 \
        --out "$work/$cpu.safetensors" --force >/dev/null 2>&1
    done
    if ! cmp -s "$work/max.safetensors" "$work/cortex-a53.safetensors"; then
      echo "aarch64 logits differ between CPUs max and cortex-a53: $model, $policy policy" >&2
      exit 1
    fi
    echo "-- same logits bytes on max and cortex-a53: $(basename "$model"), $policy policy"
  done
done
echo "-- aarch64 cross tests passed"
