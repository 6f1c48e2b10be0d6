// CPU feature detection: the compiler's builtins and cpuid on x86-64, the
// kernel's hwcaps on aarch64 Linux.
#include "ops/cpu_features.h"

#include <cstdio>
#include <cstdlib>

#include <hwy/targets.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace talkie::ops {
namespace {

CpuFeatures Detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // F16C (CPUID.1:ECX bit 29) and AVX-VNNI (CPUID.(EAX=7, ECX=1):EAX bit 4)
  // come from cpuid: clang 14's builtin knows neither name. The AVX2 check
  // covers the OS saving the 256-bit state that VEX instructions need.
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool f16c = __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1);
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
  if (f.avx2 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx_vnni = (a >> 4) & 1;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  f.avx512_vnni = avx512 && __builtin_cpu_supports("avx512vnni");
  f.avx512_bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
#elif defined(__aarch64__) && defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  f.neon_dotprod = (hwcap & HWCAP_ASIMDDP) != 0;
#ifdef HWCAP2_I8MM
  f.neon_i8mm = (hwcap2 & HWCAP2_I8MM) != 0;
#endif
#ifdef HWCAP2_BF16
  f.neon_bf16 = (hwcap2 & HWCAP2_BF16) != 0;
#endif
  (void)hwcap2;
#endif
  return f;
}

std::string ReadCap() {
  const char* env = std::getenv("TALKIE_SIMD");
  return env == nullptr ? std::string() : std::string(env);
}

// Highway targets no better than `name` (lower bits are better targets), or
// 0 for no cap. Unknown names are reported once and ignored.
int64_t MaskFor(const std::string& name) {
  if (name.empty()) return 0;
  struct Known {
    const char* name;
    int64_t target;
  };
  const Known known[] = {
#if HWY_ARCH_X86
    {"avx2", HWY_AVX2},
    {"sse4", HWY_SSE4},
    {"ssse3", HWY_SSSE3},
#elif HWY_ARCH_ARM
    {"neon", HWY_NEON},
#endif
    {"emu128", HWY_EMU128},
    {"scalar", HWY_SCALAR},
  };
  for (const Known& k : known) {
    if (name != k.name) continue;
    int64_t mask = 0;
    for (const int64_t t : hwy::SupportedAndGeneratedTargets())
      if (t >= k.target) mask |= t;
    // Nothing compiled that low: keep the lowest compiled target.
    if (mask == 0) mask = hwy::SupportedAndGeneratedTargets().back();
    return mask;
  }
  std::fprintf(stderr, "talkie: TALKIE_SIMD=%s is not a known cap; ignored\n", name.c_str());
  return 0;
}

CpuFeatures Capped(CpuFeatures f, const std::string& cap) {
  if (cap.empty() || SimdTargetMask() == 0) return f;
  // Every cap clears the extensions above plain AVX2 / NEON; below "avx2"
  // the x86 int8 kernels go too (plain NEON is always there on aarch64).
  f.avx512_vnni = f.avx512_bf16 = f.avx_vnni = false;
  f.neon_dotprod = f.neon_i8mm = f.neon_bf16 = false;
  if (cap != "avx2") f.avx2 = false;
  return f;
}

// Applies the cap to Highway's dispatch before main() runs, so every kernel
// call of the process sees it.
[[maybe_unused]] const bool kCapApplied = [] {
  if (SimdTargetMask() != 0) hwy::SetSupportedTargetsForTest(SimdTargetMask());
  return true;
}();

}  // namespace

const std::string& SimdCap() {
  static const std::string cap = ReadCap();
  return cap;
}

int64_t SimdTargetMask() {
  static const int64_t mask = MaskFor(SimdCap());
  return mask;
}

const CpuFeatures& Cpu() {
  static const CpuFeatures features = Capped(Detect(), SimdCap());
  return features;
}

}  // namespace talkie::ops
