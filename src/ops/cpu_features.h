// What the CPU can run, read once: the instruction-set extensions the fast
// policy's kernels need (x86: cpuid through the compiler's builtins; aarch64
// Linux: the kernel's hwcaps). Fields of the other architecture are false.
//
// $TALKIE_SIMD caps every kernel choice below what the CPU has, so the test
// suite can run the lower paths of a better machine: "avx2" (x86: no AVX-512,
// no VNNI), "neon" (aarch64: no dotprod, i8mm or bf16), "sse4", "ssse3",
// "emu128" or "scalar" (that Highway target or the lowest compiled above it
// for the exact kernels; portable fast-policy kernels). The cap also sets
// Highway's target mask, at program start.
#pragma once

#include <cstdint>
#include <string>

namespace talkie::ops {

struct CpuFeatures {
  // x86-64
  bool avx2 = false;         // AVX2 + FMA + F16C
  bool avx_vnni = false;     // VEX-encoded VPDPBUSD (Alder Lake, Zen 5)
  bool avx512_vnni = false;  // AVX-512 F + BW + VNNI
  bool avx512_bf16 = false;  // AVX-512 F + BW + BF16
  // aarch64 (Advanced SIMD itself is always there)
  bool neon_dotprod = false;  // SDOT / UDOT (Armv8.2 dotprod)
  bool neon_i8mm = false;     // USDOT / SMMLA (Armv8.6 i8mm)
  bool neon_bf16 = false;     // BFDOT / BFMMLA
};

// The features after the $TALKIE_SIMD cap.
const CpuFeatures& Cpu();

// $TALKIE_SIMD as given ("" when unset), and the Highway target mask it sets
// (0 = no cap; pass it to hwy::SetSupportedTargetsForTest to restore).
const std::string& SimdCap();
int64_t SimdTargetMask();

}  // namespace talkie::ops
