// The fast policy's int8 kernel for CPUs without AVX-512: 256-bit vectors,
// with AVX-VNNI's VPDPBUSD (Alder Lake and later, Zen 5) or, on plain AVX2,
// the same u8 x s8 four-term dot product built from widening multiplies.
// The tile itself is matmul_lowp_int8-inl.h, included once per target so the
// AVX2 copy can never contain an AVX-VNNI instruction. The integer dot
// products are exact, so every path gives the same bits.
// As in matmul_lowp_avx512.cpp, no standard-library code is instantiated here.
#include <immintrin.h>

#include <type_traits>

#include "ops/matmul_lowp_kernels.h"

namespace talkie::ops::lowp {

namespace avx2 {
#define TALKIE_LOWP_TARGET __attribute__((target("avx2,fma,f16c")))
#include "ops/x86/matmul_lowp_vec256-inl.h"
// Widen to 16 bits (u8 -> s16 keeps 0..255, s8 -> s16 keeps the sign) and
// multiply-add pairs into 32 bits. Per 128-bit half, unpacklo covers 4-byte
// groups 0-1 and unpackhi groups 2-3; madd leaves each group as two adjacent
// sums, hadd joins them in group order.
TALKIE_LOWP_TARGET inline VecI DotAdd(VecI acc, VecI a, VecI b) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i a_lo = _mm256_unpacklo_epi8(a, zero), a_hi = _mm256_unpackhi_epi8(a, zero);
  const __m256i b_lo = _mm256_srai_epi16(_mm256_unpacklo_epi8(zero, b), 8);
  const __m256i b_hi = _mm256_srai_epi16(_mm256_unpackhi_epi8(zero, b), 8);
  const __m256i p_lo = _mm256_madd_epi16(a_lo, b_lo), p_hi = _mm256_madd_epi16(a_hi, b_hi);
  return _mm256_add_epi32(acc, _mm256_hadd_epi32(p_lo, p_hi));
}
#include "ops/matmul_lowp_int8-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace avx2

namespace vnni {
#define TALKIE_LOWP_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#include "ops/x86/matmul_lowp_vec256-inl.h"
TALKIE_LOWP_TARGET inline VecI DotAdd(VecI acc, VecI a, VecI b) {
  return _mm256_dpbusd_avx_epi32(acc, a, b);
}
#include "ops/matmul_lowp_int8-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace vnni

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

}  // namespace talkie::ops::lowp
