// Tier 1: the group-wise quantizers. q4 searches each group's scale for the
// smallest squared error: never worse than the plain rule (extreme / -8,
// re-implemented here as the baseline), every value within the plain rule's
// bound (max|x| / 8), codes and scales always finite and in range, whatever
// the input. q8 keeps the plain rule (max|x| / 127), bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/number_formats.h"
#include "ops/quantize.h"
#include "ops/weights.h"

namespace talkie::ops {
namespace {

constexpr int64_t kG = kQuantGroup;

// The rules the quantizers had before the scale search, as baselines.
void PlainQ4(const float* x, int64_t n, uint8_t* q, uint16_t* scales) {
  for (int64_t g = 0; g < n / kG; ++g) {
    const float* v = x + g * kG;
    float extreme = 0.0f;
    for (int64_t i = 0; i < kG; ++i)
      if (std::fabs(v[i]) > std::fabs(extreme)) extreme = v[i];
    const uint16_t d16 = FloatToF16(extreme / -8.0f);
    scales[g] = d16;
    const float d = F16ToFloat(d16);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    auto code = [&](float value) {
      return static_cast<uint8_t>(std::clamp(std::nearbyint(value * inv) + 8.0f, 0.0f, 15.0f));
    };
    for (int64_t i = 0; i < 16; ++i)
      q[g * 16 + i] = static_cast<uint8_t>(code(v[i]) | (code(v[i + 16]) << 4));
  }
}

void PlainQ8(const float* x, int64_t n, int8_t* q, uint16_t* scales) {
  for (int64_t g = 0; g < n / kG; ++g) {
    const float* v = x + g * kG;
    float amax = 0.0f;
    for (int64_t i = 0; i < kG; ++i) amax = std::max(amax, std::fabs(v[i]));
    const uint16_t d16 = FloatToF16(amax / 127.0f);
    scales[g] = d16;
    const float d = F16ToFloat(d16);
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    for (int64_t i = 0; i < kG; ++i)
      q[g * kG + i] = static_cast<int8_t>(std::clamp(std::nearbyint(v[i] * inv), -127.0f, 127.0f));
  }
}

struct Q4Row {
  std::vector<uint8_t> q;
  std::vector<uint16_t> scales;
  std::vector<float> decoded;
};

Q4Row RunQ4(const std::vector<float>& x, bool plain = false) {
  const auto n = static_cast<int64_t>(x.size());
  Q4Row r{std::vector<uint8_t>(n / 2), std::vector<uint16_t>(n / kG), std::vector<float>(n)};
  (plain ? PlainQ4 : QuantizeRowQ4)(x.data(), n, r.q.data(), r.scales.data());
  const WeightMatrix w{WeightType::kQ4, r.q.data(), 1, n, 1.0f, false, r.scales.data()};
  WeightRowToFloat(w, 0, r.decoded.data());
  return r;
}

double GroupError(const std::vector<float>& x, const std::vector<float>& decoded, int64_t g) {
  double e = 0.0;
  for (int64_t i = g * kG; i < (g + 1) * kG; ++i) {
    const double diff = static_cast<double>(x[i]) - static_cast<double>(decoded[i]);
    e += diff * diff;
  }
  return e;
}

float GroupAmax(const std::vector<float>& x, int64_t g) {
  float amax = 0.0f;
  for (int64_t i = g * kG; i < (g + 1) * kG; ++i) amax = std::max(amax, std::fabs(x[i]));
  return amax;
}

bool FiniteF16(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }

// Every scale finite, every decoded value finite.
void ExpectFinite(const Q4Row& r) {
  for (const uint16_t s : r.scales) EXPECT_TRUE(FiniteF16(s)) << std::hex << s;
  for (const float v : r.decoded) EXPECT_TRUE(std::isfinite(v)) << v;
}

// Not worse than the plain rule in any group, and every value within the
// plain rule's bound, max|x| / 8 (or the plain rule's own largest error where
// the f16 rounding of its scale takes it past that).
void ExpectNoWorseThanPlain(const std::vector<float>& x, const char* what) {
  const Q4Row fresh = RunQ4(x), plain = RunQ4(x, true);
  ExpectFinite(fresh);
  for (int64_t g = 0; g < static_cast<int64_t>(x.size()) / kG; ++g) {
    const double e_new = GroupError(x, fresh.decoded, g), e_old = GroupError(x, plain.decoded, g);
    EXPECT_LE(e_new, e_old * (1.0 + 1e-12)) << what << ", group " << g;
    float bound = GroupAmax(x, g) / 8.0f * (1.0f + 1e-5f);
    for (int64_t i = g * kG; i < (g + 1) * kG; ++i)  // the f16 scale's rounding can exceed it
      bound = std::max(bound, std::fabs(plain.decoded[i] - x[i]));
    for (int64_t i = g * kG; i < (g + 1) * kG; ++i)
      EXPECT_LE(std::fabs(fresh.decoded[i] - x[i]), bound) << what << ", element " << i;
  }
}

using Generator = std::function<float(std::mt19937&)>;

std::vector<float> RandomRow(int64_t groups, const Generator& gen, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> x(static_cast<size_t>(groups * kG));
  for (float& v : x) v = gen(rng);
  return x;
}

const std::vector<std::pair<const char*, Generator>>& Distributions() {
  static const std::vector<std::pair<const char*, Generator>> all = {
      {"normal", [](std::mt19937& r) { return 0.02f * std::normal_distribution<float>()(r); }},
      {"student-t",
       [](std::mt19937& r) { return 0.02f * std::student_t_distribution<float>(3)(r); }},
      {"uniform", [](std::mt19937& r) { return std::uniform_real_distribution<float>(-1, 1)(r); }},
      {"laplace",
       [](std::mt19937& r) {
         const float e = std::exponential_distribution<float>(1)(r);
         return (r() & 1) ? e : -e;
       }},
      {"positive", [](std::mt19937& r) { return std::uniform_real_distribution<float>(0, 3)(r); }},
      {"negative", [](std::mt19937& r) { return -std::gamma_distribution<float>(2)(r); }},
      {"sparse",
       [](std::mt19937& r) {
         return (r() % 4 == 0) ? std::normal_distribution<float>()(r) : 0.0f;
       }},
      {"few levels", [](std::mt19937& r) { return static_cast<float>(int(r() % 5) - 2) * 0.25f; }},
      {"tiny", [](std::mt19937& r) { return 1e-6f * std::normal_distribution<float>()(r); }},
      {"large", [](std::mt19937& r) { return 3e4f * std::normal_distribution<float>()(r); }},
  };
  return all;
}

TEST(QuantizeTest, Q4IsNeverWorseThanThePlainRule) {
  uint32_t seed = 1;
  for (const auto& [name, gen] : Distributions())
    ExpectNoWorseThanPlain(RandomRow(200, gen, seed++), name);
}

TEST(QuantizeTest, Q4LowersTheSquaredErrorOnTypicalWeights) {
  for (const char* name : {"normal", "student-t", "uniform", "laplace"}) {
    const auto it = std::find_if(Distributions().begin(), Distributions().end(),
                                 [&](const auto& d) { return std::string(d.first) == name; });
    const std::vector<float> x = RandomRow(500, it->second, 7);
    const Q4Row fresh = RunQ4(x), plain = RunQ4(x, true);
    double e_new = 0.0, e_old = 0.0;
    for (int64_t g = 0; g < 500; ++g) {
      e_new += GroupError(x, fresh.decoded, g);
      e_old += GroupError(x, plain.decoded, g);
    }
    std::printf("%s: squared error %.4g (plain rule %.4g, %.1f%% less)\n", name, e_new, e_old,
                100.0 * (1.0 - e_new / e_old));
    EXPECT_LT(e_new, 0.95 * e_old) << name;
  }
}

TEST(QuantizeTest, Q4ZeroGroupsStayZero) {
  std::vector<float> x(4 * kG, 0.0f);
  for (int64_t i = kG; i < 2 * kG; ++i) x[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  x[3 * kG + 5] = -0.0f;
  const Q4Row r = RunQ4(x);
  for (int64_t g : {0, 2, 3}) {
    EXPECT_EQ(r.scales[g] & 0x7fffu, 0u) << g;
    for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(r.q[g * 16 + i], 0x88) << g;
    for (int64_t i = g * kG; i < (g + 1) * kG; ++i) EXPECT_EQ(r.decoded[i], 0.0f);
  }
  ExpectNoWorseThanPlain(x, "zero groups");
}

TEST(QuantizeTest, Q4GroupsWithOneHugeOutlier) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (float outlier : {50.0f, -50.0f, 1e3f, -1e4f}) {
    for (int64_t at : {0, 13, 16, 31}) {
      std::vector<float> x(kG);
      for (float& v : x) v = 0.01f * normal(rng);
      x[at] = outlier;
      const Q4Row r = RunQ4(x);
      ExpectNoWorseThanPlain(x, "outlier");
      // The outlier is what the group's scale is for: it stays within a step.
      EXPECT_LE(std::fabs(r.decoded[at] - outlier), std::fabs(outlier) / 8.0f * (1.0f + 1e-5f));
    }
  }
}

TEST(QuantizeTest, Q4OneSignedGroups) {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(0.5f, 2.0f);
  for (float sign : {1.0f, -1.0f}) {
    std::vector<float> x(8 * kG);
    for (float& v : x) v = sign * u(rng);
    ExpectNoWorseThanPlain(x, sign > 0 ? "all positive" : "all negative");
    // Equal values: exactly representable by some scale (one of the codes).
    std::vector<float> same(kG, sign * 0.75f);
    const Q4Row r = RunQ4(same);
    for (float v : r.decoded) EXPECT_NEAR(v, sign * 0.75f, 0.75f * 1e-3f);
  }
}

TEST(QuantizeTest, Q4TiesBetweenTheTailsPickThePlainRulesExtreme) {
  // -a and +a: the plain rule maps the first to -8; its result stays a floor.
  std::mt19937 rng(6);
  std::normal_distribution<float> normal;
  for (int first : {0, 1}) {
    std::vector<float> x(kG);
    for (float& v : x) v = 0.3f * normal(rng);
    x[3] = first == 0 ? 2.0f : -2.0f;
    x[20] = -x[3];
    ExpectNoWorseThanPlain(x, "tie");
  }
}

TEST(QuantizeTest, Q4ExactlyRepresentableGroupsAreExact) {
  const float d = F16ToFloat(FloatToF16(0.0123f));
  std::vector<float> x(kG);
  for (int64_t i = 0; i < kG; ++i) x[i] = static_cast<float>(static_cast<int>(i % 16) - 8) * d;
  const Q4Row r = RunQ4(x);
  for (int64_t i = 0; i < kG; ++i) EXPECT_EQ(r.decoded[i], x[i]) << i;
}

TEST(QuantizeTest, Q4RoundTripsThroughWeightRowToFloat) {
  // The layout: byte i of a group holds element i (low nibble) and element
  // i + 16 (high nibble); value = (code - 8) * scale.
  const std::vector<float> x = RandomRow(6, Distributions()[1].second, 9);
  const Q4Row r = RunQ4(x);
  for (int64_t g = 0; g < 6; ++g) {
    const float d = F16ToFloat(r.scales[g]);
    for (int64_t i = 0; i < 16; ++i) {
      const uint8_t byte = r.q[g * 16 + i];
      EXPECT_EQ(r.decoded[g * kG + i], static_cast<float>((byte & 15) - 8) * d);
      EXPECT_EQ(r.decoded[g * kG + i + 16], static_cast<float>((byte >> 4) - 8) * d);
    }
  }
  // Quantizing a row is quantizing each group on its own, deterministically.
  for (int64_t g = 0; g < 6; ++g) {
    const Q4Row one = RunQ4(std::vector<float>(x.begin() + g * kG, x.begin() + (g + 1) * kG));
    EXPECT_EQ(one.scales[0], r.scales[g]);
    EXPECT_EQ(std::memcmp(one.q.data(), &r.q[g * 16], 16), 0);
  }
  const Q4Row again = RunQ4(x);
  EXPECT_EQ(again.q, r.q);
  EXPECT_EQ(again.scales, r.scales);
}

std::vector<float> HostileRow() {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float big = std::numeric_limits<float>::max();
  const float sub = std::numeric_limits<float>::denorm_min();
  std::vector<float> x(8 * kG, 0.0f);
  auto group = [&](int g) { return x.begin() + g * kG; };
  std::fill(group(0), group(1), 1e30f);  // far past the largest f16 scale
  x[kG + 3] = 1e6f;                      // just past it, next to small values
  for (int64_t i = kG + 4; i < 2 * kG; ++i) x[i] = 0.5f;
  x[2 * kG] = big;
  x[2 * kG + 1] = -big;
  x[3 * kG + 7] = inf;
  x[3 * kG + 8] = -0.25f;
  x[4 * kG + 2] = nan;
  x[4 * kG + 3] = 0.5f;
  std::fill(group(5), group(6), sub);    // scale rounds to 0 in f16
  std::fill(group(6), group(7), 3e-7f);  // f16-subnormal scale
  x[7 * kG] = -inf;
  x[7 * kG + 1] = nan;
  return x;
}

TEST(QuantizeTest, Q4NeverProducesNanOrInf) {
  const std::vector<float> x = HostileRow();
  const Q4Row r = RunQ4(x);
  ExpectFinite(r);
  for (const uint16_t s : r.scales)
    EXPECT_LE(std::fabs(F16ToFloat(s)), 65504.0f);  // clamped, never inf
  EXPECT_EQ(F16ToFloat(r.scales[0]), -65504.0f);    // 1e30 / -8, clamped
  // Finite, non-extreme values in those groups still quantize sensibly.
  EXPECT_NEAR(r.decoded[4 * kG + 3], 0.5f, 0.5f / 8.0f);
  for (int64_t g : {6})
    ExpectNoWorseThanPlain(std::vector<float>(x.begin() + g * kG, x.begin() + (g + 1) * kG),
                           "hostile");
}

TEST(QuantizeTest, Q8KeepsThePlainRule) {
  uint32_t seed = 20;
  for (const auto& [name, gen] : Distributions()) {
    const std::vector<float> x = RandomRow(50, gen, seed++);
    const auto n = static_cast<int64_t>(x.size());
    std::vector<int8_t> q(n), q_plain(n);
    std::vector<uint16_t> s(n / kG), s_plain(n / kG);
    QuantizeRowQ8(x.data(), n, q.data(), s.data());
    PlainQ8(x.data(), n, q_plain.data(), s_plain.data());
    EXPECT_EQ(q, q_plain) << name;
    EXPECT_EQ(s, s_plain) << name;
  }
}

TEST(QuantizeTest, Q8NeverProducesNanOrInf) {
  const std::vector<float> x = HostileRow();
  const auto n = static_cast<int64_t>(x.size());
  std::vector<int8_t> q(n);
  std::vector<uint16_t> s(n / kG);
  QuantizeRowQ8(x.data(), n, q.data(), s.data());
  for (const uint16_t d : s) EXPECT_TRUE(FiniteF16(d)) << std::hex << d;
  for (const int8_t v : q) EXPECT_GE(v, -127);
  std::vector<float> decoded(n);
  const WeightMatrix w{WeightType::kQ8, q.data(), 1, n, 1.0f, false, s.data()};
  WeightRowToFloat(w, 0, decoded.data());
  for (const float v : decoded) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(decoded[4 * kG + 3], 0.5f, 0.5f / 254.0f * 1.01f);
  EXPECT_EQ(s[5] & 0x7fffu, 0u);  // the subnormal group: scale 0, all zero
  for (int64_t i = 5 * kG; i < 6 * kG; ++i) EXPECT_EQ(decoded[i], 0.0f);
}

}  // namespace
}  // namespace talkie::ops
