// Fast-policy kernels for CPUs with AVX512-VNNI / AVX512-BF16 (Zen 4/5,
// Sapphire Rapids and later). Debian's Highway has no target for these
// instructions, so this file uses intrinsics in functions compiled for them;
// matmul_lowp.cpp calls them only after checking the CPU. No standard-library
// code is instantiated here, so nothing built for AVX-512 can leak into the
// rest of the program through the linker.
#include <type_traits>

#include "ops/matmul_lowp_kernels.h"
#include "ops/x86/avx512_target.h"

namespace talkie::ops::lowp {
namespace {

// Adds 16 lanes as a fixed tree: l + (l + 8), then + 4, + 2, + 1 (the
// portable path adds in the same order).
TALKIE_AVX512 inline float SumLanesTree(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

// The 512-bit vector pieces of the shared int8 tile (matmul_lowp_int8-inl.h).
namespace int8 {
#define TALKIE_LOWP_TARGET TALKIE_AVX512
using VecI = __m512i;
using VecF = __m512;
inline constexpr int kCols = 16;
inline constexpr int32_t kQ8Offset = 128;  // VPDPBUSD reads the codes as u8
TALKIE_LOWP_TARGET inline VecI CentreQ8(VecI v) { return v; }
TALKIE_LOWP_TARGET inline VecI LoadCodes(const uint8_t* p) { return _mm512_loadu_si512(p); }
TALKIE_LOWP_TARGET inline VecI Broadcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}
TALKIE_LOWP_TARGET inline VecI LowNibbles(VecI v) {
  return _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
}
TALKIE_LOWP_TARGET inline VecI HighNibbles(VecI v) {
  return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0f));
}
TALKIE_LOWP_TARGET inline VecI DotAdd(VecI acc, VecI a, VecI b) {
  return _mm512_dpbusd_epi32(acc, a, b);
}
TALKIE_LOWP_TARGET inline VecI SetI(int32_t i) { return _mm512_set1_epi32(i); }
TALKIE_LOWP_TARGET inline VecI ZeroI() { return _mm512_setzero_si512(); }
TALKIE_LOWP_TARGET inline VecI SubI(VecI a, VecI b) { return _mm512_sub_epi32(a, b); }
TALKIE_LOWP_TARGET inline VecF LoadScales(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
TALKIE_LOWP_TARGET inline VecF ZeroF() { return _mm512_setzero_ps(); }
TALKIE_LOWP_TARGET inline VecF SetF(float f) { return _mm512_set1_ps(f); }
TALKIE_LOWP_TARGET inline VecF ToFloat(VecI v) { return _mm512_cvtepi32_ps(v); }
TALKIE_LOWP_TARGET inline VecF MulF(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
TALKIE_LOWP_TARGET inline VecF MulAddF(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
TALKIE_LOWP_TARGET inline void StoreF(float* p, VecF v) { _mm512_store_ps(p, v); }
#include "ops/matmul_lowp_int8-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace int8

// MR activation rows x NR weight rows, row-major bf16. Lane l of each output's
// accumulator takes the pairs k = 32s + 2l, 32s + 2l + 1 of every step s; the
// k tail is loaded with a mask (zeros add nothing); lanes are summed as a tree.
template <int MR, int NR>
TALKIE_AVX512 void Bf16Tile(const Bf16Job& job, int64_t i0, int64_t j0) {
  const int64_t k = job.k;
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_ps();
  const uint16_t* w[NR];
  for (int j = 0; j < NR; ++j) w[j] = job.w + (j0 + j) * k;
  const uint16_t* x[MR];
  for (int i = 0; i < MR; ++i) x[i] = job.x + (i0 + i) * job.kp;
  auto step = [&](int64_t kk, __mmask32 mask) TALKIE_AVX512 {
    __m512bh wv[NR];
    for (int j = 0; j < NR; ++j)
      wv[j] = (__m512bh)(mask == ~__mmask32{0} ? _mm512_loadu_si512(w[j] + kk)
                                               : _mm512_maskz_loadu_epi16(mask, w[j] + kk));
    for (int i = 0; i < MR; ++i) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x[i] + kk);
      for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], xv, wv[j]);
    }
  };
  int64_t kk = 0;
  for (; kk + 32 <= k; kk += 32) step(kk, ~__mmask32{0});
  if (kk < k) step(kk, static_cast<__mmask32>((1u << (k - kk)) - 1u));
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) {
      float s = SumLanesTree(acc[i][j]);
      if (job.scaled) s *= job.scale;
      job.y[(i0 + i) * job.n + j0 + j] = s;
    }
}

template <int MR>
TALKIE_AVX512 void Bf16RowCols(const Bf16Job& job, int64_t i0, int64_t j0, int64_t j1) {
  int64_t j = j0;
  // One row (decode): 8 columns at once, for 8 independent chains.
  if constexpr (MR == 1)
    for (; j + 8 <= j1; j += 8) Bf16Tile<1, 8>(job, i0, j);
  for (; j + 4 <= j1; j += 4) Bf16Tile<MR, 4>(job, i0, j);
  for (; j < j1; ++j) Bf16Tile<MR, 1>(job, i0, j);
}

}  // namespace

TALKIE_AVX512 void Int8RowsAvx512(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0,
                                  int64_t b1) {
  if (job.q4) return int8::RowRange<true>(job, i0, i1, b0, b1);
  int8::RowRange<false>(job, i0, i1, b0, b1);
}

TALKIE_AVX512 void Bf16RowsAvx512(const Bf16Job& job, int64_t i0, int64_t i1, int64_t j0,
                                  int64_t j1) {
  // 6 x 4 tiles: 24 accumulator chains hide VDPBF16PS's latency.
  int64_t i = i0;
  for (; i + 6 <= i1; i += 6) Bf16RowCols<6>(job, i, j0, j1);
  for (; i + 4 <= i1; i += 4) Bf16RowCols<4>(job, i, j0, j1);
  for (; i < i1; ++i) Bf16RowCols<1>(job, i, j0, j1);
}

}  // namespace talkie::ops::lowp
