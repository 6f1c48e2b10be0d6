// The fast policy's kernels (matmul_lowp.h): int8 (q8 / q4 weights) and bf16
// paths against plain references with stated error bounds, the AVX-512 paths
// against their portable twins, and bitwise invariance to rows in flight and
// threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/number_formats.h"
#include "ops/matmul.h"
#include "ops/matmul_lowp.h"
#include "ops/parallel.h"
#include "ops/quantize.h"

namespace talkie::ops {
namespace {

struct Quantized {
  std::vector<uint8_t> codes;
  std::vector<uint16_t> scales;
  std::vector<uint8_t> packed;
  WeightMatrix w;
};

Quantized MakeQuantized(WeightType type, int64_t n, int64_t k, uint32_t seed, bool scaled) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Quantized q;
  const bool q4 = type == WeightType::kQ4;
  q.codes.resize(static_cast<size_t>(q4 ? n * k / 2 : n * k));
  q.scales.resize(static_cast<size_t>(n * k / 32));
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    for (float& v : row) v = normal(rng) * (r % 3 == 0 ? 10.0f : 0.05f);
    if (q4)
      QuantizeRowQ4(row.data(), k, q.codes.data() + r * k / 2, q.scales.data() + r * k / 32);
    else
      QuantizeRowQ8(row.data(), k, reinterpret_cast<int8_t*>(q.codes.data()) + r * k,
                    q.scales.data() + r * k / 32);
  }
  q.w = WeightMatrix{type, q.codes.data(), n, k};
  q.w.group_scales = q.scales.data();
  if (scaled) {
    q.w.scale = 0.8125f;
    q.w.has_scale = true;
  }
  q.packed.resize(static_cast<size_t>(PackedBytes(q.w)));
  PackForLowPrecision(q.w, q.packed.data());
  q.w.packed = q.packed.data();
  q.w.precision = Precision::kFast;
  return q;
}

std::vector<float> RandomRows(int64_t m, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(m * k));
  for (int64_t i = 0; i < m * k; ++i) x[i] = normal(rng) * (i % 7 == 0 ? 30.0f : 1.0f);
  return x;
}

std::vector<float> MatMulRows(const std::vector<float>& x, int64_t m, const WeightMatrix& w) {
  std::vector<float> y(static_cast<size_t>(m * w.rows));
  MatMul(x.data(), m, w, y.data());
  return y;
}

bool BitwiseEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// 1 and 2 threads, and rows one at a time, must give the same bits as all
// rows together.
void ExpectThreadAndRowInvariant(const std::vector<float>& x, int64_t m, const WeightMatrix& w) {
  SetNumThreads(1);
  const std::vector<float> one = MatMulRows(x, m, w);
  SetNumThreads(2);
  const std::vector<float> together = MatMulRows(x, m, w);
  SetNumThreads(0);
  EXPECT_TRUE(BitwiseEqual(one, together));
  for (int64_t i = 0; i < m; ++i) {
    const std::vector<float> xi(x.begin() + i * w.cols, x.begin() + (i + 1) * w.cols);
    const std::vector<float> alone = MatMulRows(xi, 1, w);
    ASSERT_EQ(std::memcmp(alone.data(), together.data() + i * w.rows, w.rows * sizeof(float)), 0)
        << "row " << i << " of " << m;
  }
}

// Runs the fast kernels on one path for the guard's lifetime.
class PathGuard {
 public:
  explicit PathGuard(const std::string& path) { ForceLowPrecisionPath(path); }
  ~PathGuard() { ForceLowPrecisionPath(""); }
};

// The int8 SIMD paths this CPU can run.
std::vector<std::string> Int8SimdPaths() {
  std::vector<std::string> out = LowPrecisionPaths();
  EXPECT_EQ(out.back(), "portable");
  out.pop_back();
  return out;
}

TEST(MatMulLowPrecisionTest, PackedSizeEqualsTheOriginalWhenRowsFillBlocks) {
  for (WeightType type : {WeightType::kQ8, WeightType::kQ4}) {
    const Quantized q = MakeQuantized(type, 48, 96, 1, false);
    WeightMatrix plain = q.w;
    EXPECT_EQ(PackedBytes(plain), WeightBytes(plain));
  }
}

// Error bound of int8 activations: each x is off by at most half its group's
// step amax / 127, so |y - y_exact| <= sum_k |w_k| * step_g / 2 (+ float noise).
TEST(MatMulLowPrecisionTest, Int8AgreesWithExactWithinTheRoundingBound) {
  std::printf("int8 path: %s, bf16 path: %s\n", LowPrecisionPath(WeightType::kQ8),
              LowPrecisionPath(WeightType::kBF16));
  for (WeightType type : {WeightType::kQ8, WeightType::kQ4}) {
    for (int64_t m : {1, 3, 4, 5, 9}) {
      for (int64_t k : {32, 96, 160}) {
        for (int64_t n : {1, 5, 16, 17, 40}) {
          const Quantized q =
              MakeQuantized(type, n, k, static_cast<uint32_t>(m * 100 + k + n), n % 2);
          const std::vector<float> x = RandomRows(m, k, static_cast<uint32_t>(k * 7 + n));
          const std::vector<float> fast = MatMulRows(x, m, q.w);
          WeightMatrix exact = q.w;
          exact.precision = Precision::kExact;
          std::vector<float> row(static_cast<size_t>(k));
          for (int64_t j = 0; j < n; ++j) {
            WeightRowToFloat(exact, j, row.data());
            for (int64_t i = 0; i < m; ++i) {
              double ref = 0, bound = 0, magnitude = 0;
              for (int64_t g = 0; g < k / 32; ++g) {
                double amax = 0;
                for (int t = 0; t < 32; ++t)
                  amax = std::max(amax, std::fabs(double(x[i * k + 32 * g + t])));
                for (int t = 0; t < 32; ++t) {
                  const double wk = row[32 * g + t], xk = x[i * k + 32 * g + t];
                  ref += wk * xk;
                  bound += std::fabs(wk) * amax / 127.0 / 2.0;
                  magnitude += std::fabs(wk * xk);
                }
              }
              EXPECT_LE(std::fabs(fast[i * n + j] - ref), bound * 1.001 + 1e-5 * magnitude + 1e-30)
                  << "type " << int(type) << " m " << m << " k " << k << " n " << n;
            }
          }
        }
      }
    }
  }
}

TEST(MatMulLowPrecisionTest, Int8SimdAndPortablePathsGiveTheSameBits) {
  const std::vector<std::string> paths = Int8SimdPaths();
  std::printf("int8 SIMD paths on this CPU:");
  for (const std::string& p : paths) std::printf(" %s", p.c_str());
  std::printf("\n");
  for (WeightType type : {WeightType::kQ8, WeightType::kQ4}) {
    for (int64_t m : {1, 4, 7}) {
      for (int64_t n : {3, 8, 16, 33, 70}) {
        const int64_t k = 128;
        const Quantized q = MakeQuantized(type, n, k, static_cast<uint32_t>(n + m), m == 4);
        const std::vector<float> x = RandomRows(m, k, static_cast<uint32_t>(n * 3));
        std::vector<float> portable;
        {
          PathGuard guard("portable");
          portable = MatMulRows(x, m, q.w);
        }
        for (const std::string& path : paths) {
          PathGuard guard(path);
          EXPECT_TRUE(BitwiseEqual(MatMulRows(x, m, q.w), portable))
              << path << " type " << int(type) << " m " << m << " n " << n;
        }
      }
    }
  }
}

TEST(MatMulLowPrecisionTest, UnknownOrUnavailablePathsAreRefused) {
  EXPECT_THROW(ForceLowPrecisionPath("AVX9"), std::exception);
  EXPECT_STRNE(LowPrecisionPath(WeightType::kQ8), "");
}

TEST(MatMulLowPrecisionTest, Int8IsBitwiseInvariantToRowsAndThreads) {
  std::vector<std::string> paths = Int8SimdPaths();
  paths.push_back("portable");
  for (const std::string& path : paths) {
    PathGuard guard(path);
    for (WeightType type : {WeightType::kQ8, WeightType::kQ4}) {
      const int64_t m = 11, n = 37, k = 224;
      const Quantized q = MakeQuantized(type, n, k, 5, true);
      ExpectThreadAndRowInvariant(RandomRows(m, k, 6), m, q.w);
    }
  }
}

TEST(MatMulLowPrecisionTest, Int8PropagatesNonFiniteActivations) {
  const Quantized q = MakeQuantized(WeightType::kQ8, 5, 64, 9, false);
  std::vector<float> x = RandomRows(2, 64, 10);
  for (float bad : {INFINITY, -INFINITY, NAN}) {
    x[3] = bad;  // row 0, group 0
    const std::vector<float> y = MatMulRows(x, 2, q.w);
    for (int64_t j = 0; j < 5; ++j) {
      EXPECT_TRUE(std::isnan(y[j])) << j << " " << bad;
      EXPECT_TRUE(std::isfinite(y[5 + j])) << j << " " << bad;
    }
  }
}

struct Bf16Problem {
  std::vector<uint16_t> w_bits;
  WeightMatrix w;
};

Bf16Problem MakeBf16(int64_t n, int64_t k, uint32_t seed, bool scaled) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Bf16Problem p;
  for (int64_t i = 0; i < n * k; ++i) p.w_bits.push_back(FloatToBf16(normal(rng)));
  p.w = WeightMatrix{WeightType::kBF16, p.w_bits.data(), n, k};
  p.w.precision = Precision::kFast;
  if (scaled) {
    p.w.scale = 1.703125f;
    p.w.has_scale = true;
  }
  return p;
}

// bf16 activations (8 significant bits): each x is off by at most 2^-8
// relative (nearest-even), so
// |y - y_exact| <= 2^-8 * sum |w x| (+ float accumulation noise).
TEST(MatMulLowPrecisionTest, Bf16AgreesWithExactWithinTheRoundingBound) {
  for (int64_t m : {1, 3, 4, 5}) {
    for (int64_t k : {1, 7, 31, 33, 100, 257}) {
      for (int64_t n : {1, 5, 17}) {
        const Bf16Problem p = MakeBf16(n, k, static_cast<uint32_t>(m + k + n), k % 2);
        const std::vector<float> x = RandomRows(m, k, static_cast<uint32_t>(k));
        for (bool portable : {false, true}) {
          PathGuard guard(portable ? "portable" : "");
          const std::vector<float> fast = MatMulRows(x, m, p.w);
          std::vector<float> row(static_cast<size_t>(k));
          for (int64_t j = 0; j < n; ++j) {
            WeightRowToFloat(p.w, j, row.data());
            for (int64_t i = 0; i < m; ++i) {
              double ref = 0, magnitude = 0;
              for (int64_t t = 0; t < k; ++t) {
                ref += double(row[t]) * x[i * k + t];
                magnitude += std::fabs(double(row[t]) * x[i * k + t]);
              }
              const double bound = magnitude * (0x1p-8 + 2.0 * k * 0x1p-24) + 1e-30;
              EXPECT_LE(std::fabs(fast[i * n + j] - ref), bound)
                  << "portable " << portable << " m " << m << " k " << k << " n " << n;
            }
          }
        }
      }
    }
  }
}

// Not a guarantee (the instruction's rounding is the CPU's), but worth
// knowing: does this CPU's VDPBF16PS follow the documented order bit for bit?
// The AVX512-BF16 kernel against its portable twin, which follows the
// documented VDPBF16PS order: both add exact bf16 products in float, so they
// may differ only by the rounding of that accumulation (the instruction's
// internal rounding is not fully specified), by at most 2k ulps of sum |x w|.
// Without the instruction both are the portable code: the same bits.
TEST(MatMulLowPrecisionTest, Bf16SimdAgainstPortableBits) {
  const int64_t m = 5, n = 33, k = 300;
  const Bf16Problem p = MakeBf16(n, k, 11, false);
  const std::vector<float> x = RandomRows(m, k, 12);
  const std::vector<float> simd = MatMulRows(x, m, p.w);
  std::vector<float> portable;
  {
    PathGuard guard("portable");
    portable = MatMulRows(x, m, p.w);
  }
  const bool has_simd = std::string(LowPrecisionPath(WeightType::kBF16)) != "portable";
  int differing = 0;
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    WeightRowToFloat(p.w, j, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double magnitude = 0;
      for (int64_t t = 0; t < k; ++t)
        magnitude += std::fabs(double(row[t]) * Bf16ToFloat(FloatToBf16(x[i * k + t])));
      const float a = simd[i * n + j], b = portable[i * n + j];
      differing += a != b;
      if (has_simd) {
        EXPECT_LE(std::fabs(double(a) - b), 2.0 * k * 0x1p-24 * magnitude) << i << " " << j;
      } else {
        EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << i << " " << j;
      }
    }
  }
  std::printf("bf16 path %s: %d of %zu outputs differ from the portable twin\n",
              LowPrecisionPath(WeightType::kBF16), differing, simd.size());
}

TEST(MatMulLowPrecisionTest, Bf16IsBitwiseInvariantToRowsAndThreads) {
  for (bool portable : {false, true}) {
    PathGuard guard(portable ? "portable" : "");
    const int64_t m = 9, n = 21, k = 75;
    const Bf16Problem p = MakeBf16(n, k, 3, true);
    ExpectThreadAndRowInvariant(RandomRows(m, k, 4), m, p.w);
  }
}

TEST(MatMulLowPrecisionTest, OtherTypesAndUnpackedMatricesUseTheExactKernel) {
  const Quantized q = MakeQuantized(WeightType::kQ8, 9, 64, 2, false);
  WeightMatrix unpacked = q.w;
  unpacked.packed = nullptr;
  WeightMatrix exact = q.w;
  exact.precision = Precision::kExact;
  const std::vector<float> x = RandomRows(3, 64, 8);
  EXPECT_TRUE(BitwiseEqual(MatMulRows(x, 3, unpacked), MatMulRows(x, 3, exact)));
  EXPECT_STREQ(LowPrecisionPath(WeightType::kF32), "exact");
}

}  // namespace
}  // namespace talkie::ops
