// The fast policy's int8 kernel for CPUs without AVX-512: 256-bit vectors,
// with AVX-VNNI's VPDPBUSD (Alder Lake and later, Zen 5) or, on plain AVX2,
// the same u8 x s8 four-term dot product built from widening multiplies.
// Same packed layout and arithmetic as the AVX-512 kernel (matmul_lowp.h): a
// 64-byte code vector holds 16 columns, taken here as two halves of 8. The
// integer dot products are exact, so every path gives the same bits.
// As in matmul_lowp_avx512.cpp, no standard-library code is instantiated here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include "ops/matmul_lowp_kernels.h"

#include <type_traits>

namespace talkie::ops::lowp {

namespace avx2 {
#define TALKIE_LOWP_TARGET __attribute__((target("avx2,fma,f16c")))
#define TALKIE_LOWP_VNNI 0
#include "ops/matmul_lowp_avx2-inl.h"
}  // namespace avx2
#undef TALKIE_LOWP_TARGET
#undef TALKIE_LOWP_VNNI

namespace vnni {
#define TALKIE_LOWP_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#define TALKIE_LOWP_VNNI 1
#include "ops/matmul_lowp_avx2-inl.h"
}  // namespace vnni
#undef TALKIE_LOWP_TARGET
#undef TALKIE_LOWP_VNNI

__attribute__((target("avx2,fma,f16c"))) void Int8RowsAvx2(const Int8Job& job, int64_t i0,
                                                            int64_t i1, int64_t b0, int64_t b1) {
  if (job.q4) return avx2::RowRange<true>(job, i0, i1, b0, b1);
  avx2::RowRange<false>(job, i0, i1, b0, b1);
}

__attribute__((target("avx2,fma,f16c,avxvnni"))) void Int8RowsAvxVnni(const Int8Job& job,
                                                                      int64_t i0, int64_t i1,
                                                                      int64_t b0, int64_t b1) {
  if (job.q4) return vnni::RowRange<true>(job, i0, i1, b0, b1);
  vnni::RowRange<false>(job, i0, i1, b0, b1);
}

bool CpuHasAvx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

bool CpuHasAvxVnni() { return CpuHasAvx2() && __builtin_cpu_supports("avxvnni"); }

}  // namespace talkie::ops::lowp
