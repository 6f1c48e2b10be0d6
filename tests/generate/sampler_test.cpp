// The sampler against an independent reference of the filtered distribution
// (temperature, top-k, top-p keeping the top token, min-p), and chi-square
// tests of the draws with fixed seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "generate/sampler.h"

namespace talkie::generate {
namespace {

// Straightforward reference: probability of every id after the filters.
std::vector<double> ReferenceDistribution(const std::vector<float>& logits,
                                          const SamplingConfig& c) {
  const size_t n = logits.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  std::vector<bool> keep(n, true);
  if (c.top_k > 0)
    for (size_t r = static_cast<size_t>(c.top_k); r < n; ++r) keep[order[r]] = false;
  auto softmax = [&]() {
    std::vector<double> p(n, 0.0);
    double z = 0;
    for (size_t i = 0; i < n; ++i)
      if (keep[i]) z += p[i] = std::exp(logits[i] / static_cast<double>(c.temperature));
    for (double& x : p) x /= z;
    return p;
  };
  std::vector<double> p = softmax();
  if (c.top_p < 1.0f) {
    double cum = 0;
    bool cut = false;
    for (size_t id : order) {
      if (!keep[id]) continue;
      if (cut) keep[id] = false;
      cum += p[id];
      if (cum > c.top_p) cut = true;
    }
    p = softmax();
  }
  if (c.min_p > 0.0f) {
    const double top = *std::max_element(p.begin(), p.end());
    for (size_t i = 0; i < n; ++i)
      if (p[i] < c.min_p * top) keep[i] = false;
    p = softmax();
  }
  return p;
}

const std::vector<float> kLogits = {1.5f,  -0.3f, 2.2f, 0.9f,  0.0f, 2.2f,
                                    -1.7f, 0.4f,  1.1f, -0.8f, 0.7f, 0.2f};

struct Case {
  const char* name;
  float temperature;
  int64_t top_k;
  float top_p;
  float min_p;
};

class SamplerDistributionTest : public ::testing::TestWithParam<Case> {};

TEST_P(SamplerDistributionTest, FilteredDistributionAndDrawsMatchTheReference) {
  const Case& k = GetParam();
  SamplingConfig c;
  c.temperature = k.temperature;
  c.top_k = k.top_k;
  c.top_p = k.top_p;
  c.min_p = k.min_p;
  c.seed = 1234;
  const std::vector<double> ref = ReferenceDistribution(kLogits, c);
  const Candidates cand = FilteredDistribution(kLogits, c);
  std::vector<double> ours(kLogits.size(), 0.0);
  for (size_t i = 0; i < cand.ids.size(); ++i) ours[cand.ids[i]] = cand.probs[i];
  for (size_t i = 0; i < ref.size(); ++i)
    EXPECT_NEAR(ours[i], ref[i], 1e-12) << k.name << " id " << i;

  // Chi-square of 40,000 draws against the reference (fixed seed).
  const int draws = 40000;
  std::vector<int> counts(kLogits.size(), 0);
  Rng rng(c.seed);
  for (int d = 0; d < draws; ++d) {
    std::vector<float> logits = kLogits;
    ++counts[SampleToken(logits, c, {}, rng)];
  }
  double chi2 = 0;
  int df = -1;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << k.name << ": filtered-out id " << i << " was drawn";
      continue;
    }
    const double expected = ref[i] * draws;
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    ++df;
  }
  // 99.9th percentile of chi-square with df <= 11 is below 31.3.
  EXPECT_LT(chi2, 31.3) << k.name << " df " << df;
}

INSTANTIATE_TEST_SUITE_P(Combinations, SamplerDistributionTest,
                         ::testing::Values(Case{"plain", 1.0f, 0, 1.0f, 0.0f},
                                           Case{"hot", 1.7f, 0, 1.0f, 0.0f},
                                           Case{"cold_topk5", 0.6f, 5, 1.0f, 0.0f},
                                           Case{"topp08", 1.0f, 0, 0.8f, 0.0f},
                                           Case{"minp02", 1.2f, 0, 1.0f, 0.2f},
                                           Case{"topk8_topp09_minp005", 0.9f, 8, 0.9f, 0.05f},
                                           Case{"tiny_topp_keeps_top", 1.0f, 0, 0.01f, 0.0f}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SamplerTest, GreedyTakesTheFirstMaximum) {
  std::vector<float> logits = {0.1f, 3.0f, -2.0f, 3.0f};
  SamplingConfig c;
  c.temperature = 0.0f;
  Rng rng(1);
  EXPECT_EQ(SampleToken(logits, c, {}, rng), 1);
}

TEST(SamplerTest, RepetitionPenaltyHandExample) {
  // Transformers: positive logits divided, negative multiplied, each id once.
  std::vector<float> logits = {2.0f, -2.0f, 1.0f, 0.5f};
  const std::vector<int32_t> history = {0, 1, 0, 1};
  ApplyRepetitionPenalty(logits, history, 2.0f);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -4.0f, 1.0f, 0.5f}));
  // With the penalty, greedy moves from id 0 to the first of the tie 0 / 2.
  std::vector<float> l2 = {2.0f, -2.0f, 1.5f};
  SamplingConfig c;
  c.temperature = 0.0f;
  c.repetition_penalty = 2.0f;
  Rng rng(1);
  const std::vector<int32_t> seen = {0};
  EXPECT_EQ(SampleToken(l2, c, seen, rng), 2);
}

TEST(SamplerTest, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(7), b(7), c(8);
  bool differ = false;
  for (int i = 0; i < 16; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differ = differ || x != c.Next();
  }
  EXPECT_TRUE(differ);
  Rng u(3);
  for (int i = 0; i < 1000; ++i) {
    const double v = u.Uniform();
    EXPECT_GE(v, 0.0);
    EXPECT_LT(v, 1.0);
  }
}

TEST(SamplerTest, InvalidConfigsNameTheField) {
  auto message = [](SamplingConfig c) -> std::string {
    try {
      ValidateSamplingConfig(c);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  SamplingConfig c;
  EXPECT_EQ(message(c), "");
  c.temperature = -0.5f;
  EXPECT_NE(message(c).find("temperature"), std::string::npos);
  c = {};
  c.top_k = -3;
  EXPECT_NE(message(c).find("top_k"), std::string::npos);
  c = {};
  c.top_p = 0.0f;
  EXPECT_NE(message(c).find("top_p"), std::string::npos);
  c.top_p = 1.01f;
  EXPECT_NE(message(c).find("top_p"), std::string::npos);
  c = {};
  c.min_p = 1.5f;
  EXPECT_NE(message(c).find("min_p"), std::string::npos);
  c = {};
  c.repetition_penalty = 0.0f;
  EXPECT_NE(message(c).find("repetition_penalty"), std::string::npos);
}

}  // namespace
}  // namespace talkie::generate
