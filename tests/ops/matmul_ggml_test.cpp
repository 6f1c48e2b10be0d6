// The ggml block types (Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K) used in
// place: the SIMD kernel gives exactly the plain reference's bits on every
// Highway target, for odd shapes, negated rows and a scale, whatever the rows
// in flight or the thread count. Blocks are random bytes with finite f16
// scales, so every code pattern occurs. (That the widening equals gguf-py's
// dequantizers is tested against its output in tests/model/gguf_quant_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/number_formats.h"
#include "for_each_target.h"
#include "ops/ggml_blocks.h"
#include "ops/matmul.h"
#include "ops/matmul_lowp.h"
#include "ops/parallel.h"

namespace talkie::ops {
namespace {

constexpr WeightType kGgmlTypes[] = {WeightType::kQ4_1,   WeightType::kQ5_0, WeightType::kQ5_1,
                                     WeightType::kIQ4_NL, WeightType::kQ4_K, WeightType::kQ5_K,
                                     WeightType::kQ6_K};

// Byte offsets of a block's f16 fields (d, and m / dmin where there is one).
std::vector<int> F16Fields(WeightType t) {
  switch (t) {
    case WeightType::kQ5_0:
    case WeightType::kIQ4_NL:
      return {0};
    case WeightType::kQ6_K:
      return {208};
    default:
      return {0, 2};
  }
}

struct BlockMatrix {
  std::vector<uint8_t> blocks;
  std::vector<uint8_t> negated;
  WeightMatrix w;
};

BlockMatrix RandomBlocks(WeightType t, int64_t n, int64_t k, uint32_t seed, bool negate,
                         bool scaled) {
  std::mt19937 rng(seed);
  const GgmlBlockFormat f = GgmlBlock(t);
  BlockMatrix b;
  const int64_t count = n * (k / f.elems);
  b.blocks.resize(static_cast<size_t>(count * f.bytes));
  for (uint8_t& byte : b.blocks) byte = static_cast<uint8_t>(rng());
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (int64_t i = 0; i < count; ++i) {
    for (int off : F16Fields(t)) {
      const uint16_t h = FloatToF16(normal(rng));
      std::memcpy(&b.blocks[i * f.bytes + off], &h, 2);
    }
  }
  if (negate)
    for (int64_t r = 0; r < n; ++r) b.negated.push_back(static_cast<uint8_t>(rng() % 2));
  b.w = WeightMatrix{t, b.blocks.data(), n, k};
  if (scaled) {
    b.w.scale = 1.703125f;
    b.w.has_scale = true;
  }
  b.w.negated_rows = negate ? b.negated.data() : nullptr;
  return b;
}

std::vector<float> RandomActivations(int64_t m, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = normal(rng);
  return x;
}

std::vector<float> RunGgml(void (*fn)(const float*, int64_t, const WeightMatrix&, float*),
                           const std::vector<float>& x, int64_t m, const WeightMatrix& w) {
  std::vector<float> y(static_cast<size_t>(m * w.rows));
  fn(x.data(), m, w, y.data());
  return y;
}

TEST(MatMulGgmlTest, SimdKernelGivesTheReferencesBitsOnEveryTarget) {
  ForEachTarget([&](const char* target) {
    for (WeightType t : kGgmlTypes) {
      const int64_t elems = GgmlBlock(t).elems;
      // One block, several, and (32-value blocks) a row longer than a span
      // whose last span is partial.
      const std::vector<int64_t> ks =
          elems == 32 ? std::vector<int64_t>{32, 96, 288} : std::vector<int64_t>{256, 768};
      for (int64_t k : ks) {
        for (int64_t m : {1, 2, 3, 5, 66}) {
          for (int64_t n : {1, 7, 33}) {
            for (int variant = 0; variant < 3; ++variant) {
              const uint32_t seed = static_cast<uint32_t>(k * 131 + m * 17 + n + variant);
              const BlockMatrix b = RandomBlocks(t, n, k, seed, variant >= 1, variant == 2);
              const std::vector<float> x = RandomActivations(m, k, seed + 1);
              const std::vector<float> simd = RunGgml(MatMul, x, m, b.w);
              const std::vector<float> ref = RunGgml(MatMulReference, x, m, b.w);
              ASSERT_EQ(std::memcmp(simd.data(), ref.data(), simd.size() * 4), 0)
                  << GgmlBlock(t).name << " k " << k << " m " << m << " n " << n << " variant "
                  << variant;
            }
          }
        }
      }
    }
  });
}

// y of m rows with 2 threads equals y with 1 thread, and each `step`-th row
// computed alone equals its row of the batch, bit for bit.
void ExpectRowsAndThreadsInvariant(const WeightMatrix& w, int64_t m, int64_t k, int64_t step,
                                   const char* name) {
  const std::vector<float> x = RandomActivations(m, k, 10);
  SetNumThreads(2);
  const std::vector<float> all = RunGgml(MatMul, x, m, w);
  SetNumThreads(1);
  const std::vector<float> one_thread = RunGgml(MatMul, x, m, w);
  SetNumThreads(0);
  EXPECT_EQ(std::memcmp(all.data(), one_thread.data(), all.size() * 4), 0) << name;
  for (int64_t i = 0; i < m; i += step) {
    const std::vector<float> row(x.begin() + i * k, x.begin() + (i + 1) * k);
    const std::vector<float> y = RunGgml(MatMul, row, 1, w);
    EXPECT_EQ(std::memcmp(y.data(), &all[i * w.rows], y.size() * 4), 0) << name << " row " << i;
  }
}

TEST(MatMulGgmlTest, RowsInFlightAndThreadsNeverChangeABit) {
  ForEachTarget([&](const char* target) {
    for (WeightType t : kGgmlTypes) {
      const int64_t k = 512, m = 11, n = 37;
      const BlockMatrix b = RandomBlocks(t, n, k, 9, true, true);
      ExpectRowsAndThreadsInvariant(b.w, m, k, 1, GgmlBlock(t).name);
    }
  });
}

TEST(MatMulGgmlTest, NegatedRowsAreTheRowsNegated) {
  for (WeightType t : kGgmlTypes) {
    const int64_t k = 256, n = 4;
    BlockMatrix b = RandomBlocks(t, n, k, 3, false, false);
    std::vector<float> plain(k), negated(k);
    const std::vector<uint8_t> flags = {0, 1, 0, 1};
    for (int64_t r = 0; r < n; ++r) {
      b.w.negated_rows = nullptr;
      WeightRowToFloat(b.w, r, plain.data());
      b.w.negated_rows = flags.data();
      WeightRowToFloat(b.w, r, negated.data());
      for (int64_t i = 0; i < k; ++i)
        ASSERT_EQ(negated[i], flags[r] ? -plain[i] : plain[i]) << GgmlBlock(t).name;
    }
    EXPECT_EQ(WeightBytes(b.w), static_cast<int64_t>(b.blocks.size()));
  }
}

// --- the fast policy: integer kernels for Q4_K, Q5_0, Q6_K -----------------

constexpr WeightType kFastGgmlTypes[] = {WeightType::kQ4_K, WeightType::kQ5_0, WeightType::kQ6_K};

TEST(MatMulGgmlTest, FastPolicyPathsAllGiveThePortableTwinsBits) {
  for (WeightType t : kGgmlTypes) {
    const bool has_kernel =
        t == WeightType::kQ4_K || t == WeightType::kQ5_0 || t == WeightType::kQ6_K;
    EXPECT_EQ(std::string(LowPrecisionPath(t)) == "exact", !has_kernel) << GgmlBlock(t).name;
  }
  for (WeightType t : kFastGgmlTypes) {
    for (int64_t k : {256, 768}) {
      for (int64_t m : {1, 5, 70}) {
        for (int variant = 0; variant < 3; ++variant) {
          const int64_t n = 19;
          BlockMatrix b = RandomBlocks(t, n, k, static_cast<uint32_t>(k + m + variant),
                                       variant >= 1, variant == 2);
          b.w.precision = Precision::kFast;
          const std::vector<float> x = RandomActivations(m, k, static_cast<uint32_t>(m));
          std::vector<float> portable;
          {
            ScopedLowPrecisionPath path("portable");
            portable = RunGgml(MatMul, x, m, b.w);
          }
          for (const std::string& p : LowPrecisionPaths()) {
            ScopedLowPrecisionPath path(p);
            const std::vector<float> y = RunGgml(MatMul, x, m, b.w);
            ASSERT_EQ(std::memcmp(y.data(), portable.data(), y.size() * 4), 0)
                << GgmlBlock(t).name << " path " << p << " k " << k << " m " << m << " variant "
                << variant;
          }
        }
      }
    }
  }
}

TEST(MatMulGgmlTest, FastPolicyIsWithinHalfAnActivationStepOfExact) {
  for (WeightType t : kFastGgmlTypes) {
    const int64_t k = 512, m = 6, n = 23;
    BlockMatrix b = RandomBlocks(t, n, k, 4, true, false);
    const std::vector<float> x = RandomActivations(m, k, 8);
    const std::vector<float> exact = RunGgml(MatMulReference, x, m, b.w);
    b.w.precision = Precision::kFast;
    const std::vector<float> fast = RunGgml(MatMul, x, m, b.w);
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t j = 0; j < n; ++j) {
      WeightRowToFloat(b.w, j, row.data());
      for (int64_t i = 0; i < m; ++i) {
        // Each activation moves by at most half its group's step amax / 127
        // (plus float rounding of the sums).
        double bound = 0, magnitude = 0;
        for (int64_t g = 0; g < k / 32; ++g) {
          float amax = 0;
          for (int64_t tt = 0; tt < 32; ++tt)
            amax = std::max(amax, std::fabs(x[i * k + 32 * g + tt]));
          for (int64_t tt = 0; tt < 32; ++tt) {
            bound += 0.5 * amax / 127 * std::fabs(row[32 * g + tt]);
            magnitude += std::fabs(row[32 * g + tt] * x[i * k + 32 * g + tt]);
          }
        }
        bound = bound * 1.01 + 1e-5 * magnitude;
        EXPECT_LE(std::fabs(fast[i * n + j] - exact[i * n + j]), bound) << GgmlBlock(t).name;
      }
    }
  }
}

TEST(MatMulGgmlTest, FastPolicyRowsInFlightAndThreadsNeverChangeABit) {
  for (WeightType t : kFastGgmlTypes) {
    const int64_t k = 512, m = 70, n = 37;
    BlockMatrix b = RandomBlocks(t, n, k, 9, true, true);
    b.w.precision = Precision::kFast;
    ExpectRowsAndThreadsInvariant(b.w, m, k, 7, GgmlBlock(t).name);
  }
}

}  // namespace
}  // namespace talkie::ops
