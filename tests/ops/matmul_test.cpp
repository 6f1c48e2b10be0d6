// Tier 1: the SIMD matmul against the plain reference on odd shapes (sizes
// that are not multiples of the vector width), and its bitwise invariance to
// the number of rows in flight and to the thread count, on every SIMD target
// this CPU supports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/number_formats.h"
#include "for_each_target.h"
#include "ops/matmul.h"
#include "ops/parallel.h"
#include "ops/quantize.h"

namespace talkie::ops {
namespace {

struct Problem {
  std::vector<float> x;
  std::vector<uint16_t> w_bf16;
  std::vector<float> w_f32;
  std::vector<uint16_t> w_f16;
  int64_t m, n, k;
};

Problem MakeProblem(int64_t m, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Problem p{{}, {}, {}, {}, m, n, k};
  for (int64_t i = 0; i < m * k; ++i) p.x.push_back(normal(rng));
  for (int64_t i = 0; i < n * k; ++i) {
    p.w_bf16.push_back(FloatToBf16(normal(rng)));
    p.w_f32.push_back(normal(rng));
    p.w_f16.push_back(FloatToF16(normal(rng)));
  }
  return p;
}

WeightMatrix Bf16(const Problem& p, bool scaled) {
  WeightMatrix w{WeightType::kBF16, p.w_bf16.data(), p.n, p.k};
  if (scaled) {
    w.scale = 1.703125f;
    w.has_scale = true;
  }
  return w;
}

std::vector<float> Apply(void (*fn)(const float*, int64_t, const WeightMatrix&, float*),
                         const Problem& p, const WeightMatrix& w) {
  std::vector<float> y(static_cast<size_t>(p.m * p.n));
  fn(p.x.data(), p.m, w, y.data());
  return y;
}

TEST(MatMulTest, AgreesWithTheReferenceOnOddShapes) {
  std::printf("matmul target: %s\n", MatMulTarget());
  ForEachTarget([&](const char* target) {
    for (int64_t m : {1, 3, 4, 5, 9}) {
      for (int64_t k : {1, 7, 16, 33, 130}) {
        for (int64_t n : {1, 5, 17}) {
          const Problem p = MakeProblem(m, n, k, static_cast<uint32_t>(m * 1000 + k * 10 + n));
          for (int variant = 0; variant < 4; ++variant) {
            const WeightMatrix w =
                variant == 3   ? WeightMatrix{WeightType::kF16, p.w_f16.data(), n, k}
                : variant == 2 ? WeightMatrix{WeightType::kF32, p.w_f32.data(), n, k}
                               : Bf16(p, variant == 1);
            const std::vector<float> fast = Apply(MatMul, p, w);
            const std::vector<float> ref = Apply(MatMulReference, p, w);
            for (int64_t i = 0; i < m; ++i) {
              for (int64_t j = 0; j < n; ++j) {
                // Bound: a few ulps of the sum of |products| per term.
                std::vector<float> row(static_cast<size_t>(k));
                WeightRowToFloat(w, j, row.data());
                double magnitude = 0;
                for (int64_t t = 0; t < k; ++t) magnitude += std::fabs(p.x[i * k + t] * row[t]);
                const double bound = 2.0 * static_cast<double>(k) * 1.2e-7 * magnitude + 1e-30;
                EXPECT_LE(std::fabs(fast[i * n + j] - ref[i * n + j]), bound)
                    << "m " << m << " k " << k << " n " << n << " variant " << variant;
              }
            }
          }
        }
      }
    }
  });
}

// The f16 kernel widens every finite half exactly (subnormals included), on
// every target: read out by multiplying with the identity (1 * w plus zeros;
// a -0 weight reads as +0). Infinities and NaNs cannot be read this way
// (0 * inf is NaN) and are not weights.
TEST(MatMulTest, F16WeightsWidenExactlyOnEveryTarget) {
  std::vector<uint16_t> finite;
  for (uint32_t h = 0; h < 0x10000; ++h)
    if (((h >> 10) & 0x1f) != 0x1f) finite.push_back(static_cast<uint16_t>(h));
  const int64_t k = 64, n = (static_cast<int64_t>(finite.size()) + k - 1) / k;
  std::vector<uint16_t> w(static_cast<size_t>(n * k));
  for (size_t i = 0; i < w.size(); ++i) w[i] = finite[i % finite.size()];
  std::vector<float> identity(static_cast<size_t>(k * k), 0.0f);
  for (int64_t t = 0; t < k; ++t) identity[t * k + t] = 1.0f;
  ForEachTarget([&](const char* target) {
    std::vector<float> y(static_cast<size_t>(k * n));
    MatMul(identity.data(), k, WeightMatrix{WeightType::kF16, w.data(), n, k}, y.data());
    for (int64_t r = 0; r < n; ++r)
      for (int64_t t = 0; t < k; ++t) {
        const float want = F16ToFloat(w[r * k + t]) + 0.0f;
        ASSERT_EQ(std::memcmp(&y[t * n + r], &want, 4), 0)
            << target << ": half 0x" << std::hex << w[r * k + t] << " gave " << y[t * n + r];
      }
  });
}

// QuantizedCopies copies of a float matrix (n x k, k % 32 == 0).
struct QuantizedCopies {
  std::vector<int8_t> q8;
  std::vector<uint8_t> q4;
  std::vector<uint16_t> s8, s4;
  WeightMatrix Q8(int64_t n, int64_t k) const {
    return {WeightType::kQ8, q8.data(), n, k, 1.0f, false, s8.data()};
  }
  WeightMatrix Q4(int64_t n, int64_t k) const {
    return {WeightType::kQ4, q4.data(), n, k, 1.0f, false, s4.data()};
  }
};
QuantizedCopies Quantize(const std::vector<float>& w, int64_t n, int64_t k) {
  QuantizedCopies out;
  out.q8.resize(n * k);
  out.q4.resize(n * k / 2);
  out.s8.resize(n * k / 32);
  out.s4.resize(n * k / 32);
  for (int64_t r = 0; r < n; ++r) {
    QuantizeRowQ8(&w[r * k], k, &out.q8[r * k], &out.s8[r * k / 32]);
    QuantizeRowQ4(&w[r * k], k, &out.q4[r * k / 2], &out.s4[r * k / 32]);
  }
  return out;
}

TEST(MatMulTest, QuantizedKernelsAgreeWithTheReference) {
  ForEachTarget([&](const char* target) {
    for (int64_t m : {1, 4, 6}) {
      for (int64_t k : {32, 96, 224}) {
        const int64_t n = 9;
        const Problem p = MakeProblem(m, n, k, static_cast<uint32_t>(m + k));
        const QuantizedCopies q = Quantize(p.w_f32, n, k);
        for (const WeightMatrix& w : {q.Q8(n, k), q.Q4(n, k)}) {
          const std::vector<float> fast = Apply(MatMul, p, w);
          const std::vector<float> ref = Apply(MatMulReference, p, w);
          for (size_t i = 0; i < fast.size(); ++i)
            EXPECT_NEAR(fast[i], ref[i], 1e-4f * (1.0f + std::fabs(ref[i])))
                << "k " << k << " type " << int(w.type);
        }
      }
    }
  });
}

TEST(MatMulTest, QuantizationErrorIsWithinTheFormatsStep) {
  const Problem p = MakeProblem(1, 4, 256, 3);
  const QuantizedCopies q = Quantize(p.w_f32, 4, 256);
  std::vector<float> row(256);
  for (int64_t r = 0; r < 4; ++r) {
    for (const WeightMatrix& w : {q.Q8(4, 256), q.Q4(4, 256)}) {
      WeightRowToFloat(w, r, row.data());
      for (int64_t g = 0; g < 8; ++g) {
        float amax = 0;
        for (int i = 0; i < 32; ++i)
          amax = std::max(amax, std::fabs(p.w_f32[r * 256 + g * 32 + i]));
        // q8: half a step (amax / 127). q4: half a step (amax / 8) except that
        // values near -extreme clamp at code 15 (7 steps): at most one step.
        const float step = w.type == WeightType::kQ8 ? amax / 127 : amax / 8;
        const float bound = (w.type == WeightType::kQ8 ? 0.5f : 1.0f) * step * 1.01f;
        for (int i = 0; i < 32; ++i)
          EXPECT_LE(std::fabs(row[g * 32 + i] - p.w_f32[r * 256 + g * 32 + i]), bound);
      }
    }
  }
}

TEST(MatMulTest, RowsInFlightAndThreadsNeverChangeABit) {
  ForEachTarget([&](const char* target) {
    const Problem p = MakeProblem(11, 37, 224, 5);
    const QuantizedCopies q = Quantize(p.w_f32, 37, 224);
    for (int variant = 0; variant < 5; ++variant) {
      const WeightMatrix w = variant < 2    ? Bf16(p, variant == 1)
                             : variant == 2 ? q.Q8(37, 224)
                             : variant == 3
                                 ? q.Q4(37, 224)
                                 : WeightMatrix{WeightType::kF16, p.w_f16.data(), 37, 224};
      SetNumThreads(2);
      const std::vector<float> all = Apply(MatMul, p, w);
      SetNumThreads(1);
      const std::vector<float> one_thread = Apply(MatMul, p, w);
      SetNumThreads(0);
      EXPECT_EQ(std::memcmp(all.data(), one_thread.data(), all.size() * 4), 0);
      for (int64_t i = 0; i < p.m; ++i) {
        std::vector<float> y(static_cast<size_t>(p.n));
        MatMul(&p.x[i * p.k], 1, w, y.data());
        EXPECT_EQ(std::memcmp(y.data(), &all[i * p.n], y.size() * 4), 0) << "row " << i;
      }
    }
  });
}

}  // namespace
}  // namespace talkie::ops
