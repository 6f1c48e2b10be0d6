// Tier 1: the SIMD row ops (RmsNormRows, SiluMul) against their plain
// references on odd sizes, data across magnitudes and special values, on every
// SIMD target this CPU supports; and their bitwise invariance to how many rows
// (or which slice of a buffer) are processed together, and to in-place use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "for_each_target.h"
#include "ops/activation.h"
#include "ops/norm.h"

namespace talkie::ops {
namespace {

constexpr int64_t kSizes[] = {1, 7, 15, 17, 31, 33, 100, 2049, 5504};

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Random rows: normal values times 10^e, e drawn per row from [lo, hi], or
// (mixed) a log-uniform magnitude per element.
std::vector<float> RandomRows(int64_t rows, int64_t n, float lo_exp, float hi_exp, bool mixed,
                              uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> exponent(lo_exp, hi_exp);
  std::vector<float> x(static_cast<size_t>(rows * n));
  for (int64_t r = 0; r < rows; ++r) {
    const float row_scale = std::pow(10.0f, exponent(rng));
    for (int64_t i = 0; i < n; ++i)
      x[r * n + i] = normal(rng) * (mixed ? std::pow(10.0f, exponent(rng)) : row_scale);
  }
  return x;
}

std::vector<float> Norm(void (*fn)(const float*, int64_t, int64_t, float*),
                        const std::vector<float>& x, int64_t n) {
  std::vector<float> y(x.size());
  fn(x.data(), static_cast<int64_t>(x.size()) / n, n, y.data());
  return y;
}

TEST(RmsNormTest, AgreesWithTheReference) {
  ForEachTarget([](const char* target) {
    double worst = 0;
    for (const int64_t n : kSizes) {
      for (int mode = 0; mode < 4; ++mode) {
        // Magnitudes: ~1, 1e-3..1e3 per row, 1e-15..1e15 per row, mixed 1e-6..1e6.
        const float lo[] = {0, -3, -15, -6}, hi[] = {0, 3, 15, 6};
        const int64_t rows = 3;
        const std::vector<float> x =
            RandomRows(rows, n, lo[mode], hi[mode], mode == 3, static_cast<uint32_t>(n * 4 + mode));
        const std::vector<float> fast = Norm(RmsNormRows, x, n);
        const std::vector<float> ref = Norm(RmsNormRowsReference, x, n);
        for (size_t i = 0; i < x.size(); ++i) {
          ASSERT_TRUE(std::isfinite(fast[i])) << "n " << n << " mode " << mode;
          // Only the order of the float sum of squares differs; the outputs
          // are O(1), so a relative bound is an absolute one too.
          // Observed on x86 (AVX3 ... SCALAR): at most 1.02e-6 relative.
          const double diff = std::fabs(1.0 * fast[i] - ref[i]);
          if (diff > 0) worst = std::max(worst, diff / std::fabs(ref[i]));
          EXPECT_LE(diff, 2e-6 * std::fabs(ref[i]) + 1e-30)
              << "n " << n << " mode " << mode << " i " << i;
        }
      }
    }
    std::printf("rmsnorm %-8s max relative difference vs reference: %.3g\n", target, worst);
  });
}

TEST(RmsNormTest, SpecialRowsMatchTheReferenceBitForBit) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  ForEachTarget([&](const char*) {
    for (const int64_t n : kSizes) {
      // All zeros (with signs), one non-zero element, subnormals, and values
      // whose squares overflow (sum inf: y is 0 * x).
      std::vector<float> x;
      for (int64_t i = 0; i < n; ++i) x.push_back(i % 2 ? -0.0f : 0.0f);
      for (int64_t i = 0; i < n; ++i) x.push_back(i == n / 2 ? 3.0f : 0.0f);
      for (int64_t i = 0; i < n; ++i) x.push_back(i % 3 ? tiny : -tiny * 5);
      for (int64_t i = 0; i < n; ++i) x.push_back(i % 2 ? 1e30f : -2e25f);
      EXPECT_TRUE(SameBits(Norm(RmsNormRows, x, n), Norm(RmsNormRowsReference, x, n))) << "n " << n;
    }
  });
}

TEST(RmsNormTest, RowsTogetherOrAloneAndInPlaceGiveTheSameBits) {
  ForEachTarget([](const char*) {
    for (const int64_t n : kSizes) {
      const int64_t rows = 9;
      const std::vector<float> x = RandomRows(rows, n, -2, 2, false, static_cast<uint32_t>(n));
      const std::vector<float> all = Norm(RmsNormRows, x, n);
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<float> y(static_cast<size_t>(n));
        RmsNormRows(&x[r * n], 1, n, y.data());
        EXPECT_EQ(std::memcmp(y.data(), &all[r * n], n * sizeof(float)), 0)
            << "n " << n << " row " << r;
      }
      std::vector<float> in_place = x;
      RmsNormRows(in_place.data(), rows, n, in_place.data());
      EXPECT_TRUE(SameBits(in_place, all)) << "n " << n;
    }
  });
}

std::vector<float> Silu(void (*fn)(const float*, const float*, int64_t, float*),
                        const std::vector<float>& gate, const std::vector<float>& up) {
  std::vector<float> out(gate.size());
  fn(gate.data(), up.data(), static_cast<int64_t>(gate.size()), out.data());
  return out;
}

// Stated bound: |fast - ref| <= 5e-7 |ref| + 1e-35, i.e. about 4 ulp (Highway's
// exp is within 1 ulp, glibc's expf within 1; the division and the product
// by up each round once more); the absolute term covers results that are
// subnormal or at exp's overflow edge. Measured: over every float gate in
// [-110, 110] with up = 1 at most 3.46e-7 (4 ulp, g = -16.6426353), with
// random up at most 4.3e-7 (the pair below).
constexpr double kSiluRel = 5e-7, kSiluAbs = 1e-35;

TEST(SiluMulTest, AgreesWithTheReference) {
  ForEachTarget([](const char* target) {
    double worst = 0;
    for (const int64_t n : kSizes) {
      std::mt19937 rng(static_cast<uint32_t>(n));
      std::uniform_real_distribution<float> wide(-100.0f, 100.0f);
      std::uniform_real_distribution<float> exponent(-8.0f, 2.3f);
      std::normal_distribution<float> normal;
      for (int mode = 0; mode < 3; ++mode) {
        std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
          // Gates: uniform over [-100, 100], normal, or +-10^[-8, 2.3].
          gate[i] = mode == 0   ? wide(rng)
                    : mode == 1 ? normal(rng) * 3.0f
                                : (i % 2 ? -1.0f : 1.0f) * std::pow(10.0f, exponent(rng));
          up[i] = normal(rng) * std::pow(10.0f, exponent(rng) * 0.5f);
        }
        const std::vector<float> fast = Silu(SiluMul, gate, up);
        const std::vector<float> ref = Silu(SiluMulReference, gate, up);
        for (int64_t i = 0; i < n; ++i) {
          const double diff = std::fabs(1.0 * fast[i] - ref[i]);
          if (diff > 0 && std::fabs(ref[i]) > 1e-30)
            worst = std::max(worst, diff / std::fabs(ref[i]));
          EXPECT_LE(diff, kSiluRel * std::fabs(ref[i]) + kSiluAbs)
              << "gate " << gate[i] << " up " << up[i] << " fast " << fast[i] << " ref " << ref[i];
        }
      }
    }
    std::printf("silu    %-8s max relative difference vs reference: %.3g\n", target, worst);
  });
}

TEST(SiluMulTest, DenseSweepOfGatesStaysWithinTheBound) {
  // Every 1/64 from -110 to 110 (exp(-g) overflows below g = -88.7 and
  // underflows above g = 87), with a few values of up.
  std::vector<float> gate = {-16.6426353f};  // the worst case seen, with up = 1.07386231
  for (int i = -110 * 64; i <= 110 * 64; ++i) gate.push_back(static_cast<float>(i) / 64.0f);
  ForEachTarget([&](const char*) {
    for (const float u : {1.0f, -3.0f, 1.07386231f}) {
      const std::vector<float> up(gate.size(), u);
      const std::vector<float> fast = Silu(SiluMul, gate, up);
      const std::vector<float> ref = Silu(SiluMulReference, gate, up);
      for (size_t i = 0; i < gate.size(); ++i) {
        ASSERT_FALSE(std::isnan(fast[i])) << "gate " << gate[i];
        EXPECT_LE(std::fabs(1.0 * fast[i] - ref[i]), kSiluRel * std::fabs(ref[i]) + kSiluAbs)
            << "gate " << gate[i] << " fast " << fast[i] << " ref " << ref[i];
      }
    }
  });
}

TEST(SiluMulTest, SpecialGatesMatchTheReferenceBitForBit) {
  const float inf = std::numeric_limits<float>::infinity();
  // Signed zeros, gates where exp(-g) overflows or underflows (0 * up or
  // g * up), beyond Highway's +-104 exp range, and infinities.
  const std::vector<float> specials = {0.0f,   -0.0f,   100.0f, -100.0f, 90.0f,   -90.0f,
                                       104.0f, -104.0f, 105.0f, -105.0f, 1000.0f, -1000.0f,
                                       1e30f,  -1e30f,  inf,    -inf,    3.4e38f, -3.4e38f};
  ForEachTarget([&](const char*) {
    for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{17}, int64_t{33}, int64_t{100}}) {
      std::vector<float> gate, up;
      for (int64_t i = 0; i < n; ++i) {
        gate.push_back(specials[i % specials.size()]);
        up.push_back((i / specials.size()) % 2 ? -2.5f : 1.5f);
      }
      const std::vector<float> fast = Silu(SiluMul, gate, up);
      const std::vector<float> ref = Silu(SiluMulReference, gate, up);
      for (int64_t i = 0; i < n; ++i) {
        // -inf gives -inf / inf = NaN in the reference too.
        if (std::isnan(ref[i])) {
          EXPECT_TRUE(std::isnan(fast[i])) << "gate " << gate[i];
          continue;
        }
        EXPECT_EQ(std::memcmp(&fast[i], &ref[i], sizeof(float)), 0)
            << "gate " << gate[i] << " up " << up[i] << " fast " << fast[i] << " ref " << ref[i];
      }
    }
    // NaN gates stay NaN.
    const std::vector<float> nan(5, std::numeric_limits<float>::quiet_NaN()), one(5, 1.0f);
    for (const float v : Silu(SiluMul, nan, one)) EXPECT_TRUE(std::isnan(v));
  });
}

TEST(SiluMulTest, SlicesAndInPlaceGiveTheSameBits) {
  // An element's result does not depend on n or on where the call starts, so
  // any split of a buffer (e.g. per row) gives the same bits; and out may
  // alias gate, as the forward pass uses it.
  const int64_t total = 5504 * 3 + 5;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> gate(total), up(total);
  for (int64_t i = 0; i < total; ++i) gate[i] = normal(rng) * 4.0f, up[i] = normal(rng);
  ForEachTarget([&](const char*) {
    const std::vector<float> all = Silu(SiluMul, gate, up);
    std::vector<float> pieces(total);
    for (int64_t start = 0, len = 1; start < total; start += len, len = len * 3 + 1) {
      const int64_t m = std::min(len, total - start);
      SiluMul(&gate[start], &up[start], m, &pieces[start]);
    }
    EXPECT_TRUE(SameBits(pieces, all));
    std::vector<float> in_place = gate;
    SiluMul(in_place.data(), up.data(), total, in_place.data());
    EXPECT_TRUE(SameBits(in_place, all));
  });
}

}  // namespace
}  // namespace talkie::ops
