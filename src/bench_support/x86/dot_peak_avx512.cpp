// The fast policy's dot-product peak loop (see dot_peak.h), in a function
// compiled for AVX512-VNNI / AVX512-BF16 and called only after checking the
// CPU. No standard-library code is instantiated here, so nothing built for
// AVX-512 can leak into the rest of the program through the linker.
#include "bench_support/dot_peak.h"
#include "ops/x86/avx512_target.h"

namespace talkie::bench_support {
namespace {

// Independent accumulator chains: these instructions have long latencies
// here, so throughput keeps rising up to ~24 chains (measured); 28 leaves
// registers for the operands.
constexpr int kPeakChains = 28;

template <bool kBf16>
TALKIE_AVX512 float DotChains(int64_t iterations) {
  __m512 facc[kPeakChains];
  __m512i iacc[kPeakChains];
  for (int c = 0; c < kPeakChains; ++c) {
    facc[c] = _mm512_set1_ps(static_cast<float>(c));
    iacc[c] = _mm512_set1_epi32(c);
  }
  __m512i a = _mm512_set1_epi16(0x3f80), b = _mm512_set1_epi16(0x3f81);
  __asm__ volatile("" : "+v"(a), "+v"(b));  // opaque operands: nothing folds
  for (int64_t it = 0; it < iterations; ++it)
    for (int c = 0; c < kPeakChains; ++c) {
      if constexpr (kBf16)
        facc[c] = _mm512_dpbf16_ps(facc[c], (__m512bh)a, (__m512bh)b);
      else
        iacc[c] = _mm512_dpbusd_epi32(iacc[c], a, b);
    }
  float total = 0.0f;
  for (int c = 0; c < kPeakChains; ++c)
    total += kBf16 ? _mm512_reduce_add_ps(facc[c])
                   : static_cast<float>(_mm512_reduce_add_epi32(iacc[c]));
  return total;
}

}  // namespace

TALKIE_AVX512 double DotLoopAvx512(bool bf16, int64_t iterations, float* sink) {
  *sink = bf16 ? DotChains<true>(iterations) : DotChains<false>(iterations);
  // bf16: 32 multiply-adds per instruction; int8: 64.
  return static_cast<double>(iterations) * kPeakChains * (bf16 ? 64.0 : 128.0);
}

}  // namespace talkie::bench_support
