// The fast policy's kernels over ggml blocks in place (Q4_K, Q5_0, Q6_K):
// the tile of matmul_lowp_ggml-inl.h per x86 path, with the 4-term u8 x s8
// dot product of that path (AVX512-VNNI's and AVX-VNNI's VPDPBUSD on 256-bit
// vectors, or AVX2's widening multiplies: every code is at most 63, so
// VPMADDUBSW never saturates). Integer dot products are exact and the float
// steps are the portable twin's, so every path gives its bits (tested).
#include <immintrin.h>

#include "ops/ggml_lowp_blocks.h"
#include "ops/matmul_lowp_kernels.h"
#include "ops/x86/avx512_target.h"

namespace talkie::ops::lowp {

namespace ggml_avx512 {
#define TALKIE_LOWP_TARGET TALKIE_AVX512
inline constexpr bool kZmm = true;  // pairs of weight rows in 512-bit vectors
TALKIE_LOWP_TARGET inline __m256i DotAdd(__m256i acc, __m256i u, __m256i x) {
  return _mm256_dpbusd_epi32(acc, u, x);
}
#include "ops/x86/matmul_lowp_ggml-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace ggml_avx512

namespace ggml_vnni {
#define TALKIE_LOWP_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
inline constexpr bool kZmm = false;
TALKIE_LOWP_TARGET inline __m256i DotAdd(__m256i acc, __m256i u, __m256i x) {
  return _mm256_dpbusd_avx_epi32(acc, u, x);
}
#include "ops/x86/matmul_lowp_ggml-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace ggml_vnni

namespace ggml_avx2 {
#define TALKIE_LOWP_TARGET __attribute__((target("avx2,fma,f16c")))
inline constexpr bool kZmm = false;
TALKIE_LOWP_TARGET inline __m256i DotAdd(__m256i acc, __m256i u, __m256i x) {
  const __m256i pairs = _mm256_maddubs_epi16(u, x);  // |pair| <= 2 * 63 * 127
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}
#include "ops/x86/matmul_lowp_ggml-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace ggml_avx2

TALKIE_AVX512 void GgmlRowsAvx512(const GgmlInt8Job& job, int64_t i0, int64_t i1, int64_t j0,
                                  int64_t j1) {
  ggml_avx512::GgmlRowsAny(job, i0, i1, j0, j1);
}

__attribute__((target("avx2,fma,f16c,avxvnni"))) void GgmlRowsAvxVnni(const GgmlInt8Job& job,
                                                                      int64_t i0, int64_t i1,
                                                                      int64_t j0, int64_t j1) {
  ggml_vnni::GgmlRowsAny(job, i0, i1, j0, j1);
}

__attribute__((target("avx2,fma,f16c"))) void GgmlRowsAvx2(const GgmlInt8Job& job, int64_t i0,
                                                           int64_t i1, int64_t j0, int64_t j1) {
  ggml_avx2::GgmlRowsAny(job, i0, i1, j0, j1);
}

}  // namespace talkie::ops::lowp
