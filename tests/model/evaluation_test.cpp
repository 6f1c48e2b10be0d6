// Perplexity feeds each window through its KV cache in chunks: the scores are
// bit-identical to one forward of the whole window (both policies), only the
// tokens a window can score are counted, and progress counts up to them.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures.h"
#include "model/evaluation.h"
#include "model/forward.h"
#include "model_helpers.h"
#include "ops/softmax.h"

namespace talkie::model {
namespace {

using testing::RandomIds;

// The recipe with one forward per window, no chunks.
std::vector<double> WholeWindowNll(const Model& model, const std::vector<int32_t>& ids,
                                   int64_t window, int64_t stride) {
  const auto n = static_cast<int64_t>(ids.size());
  const int64_t vocab = model.config().vocab_size;
  std::vector<double> nll;
  int64_t scored_until = 1;
  for (int64_t begin = 0; scored_until < n; begin += stride) {
    const int64_t end = std::min(begin + window, n);
    const ForwardOutput out =
        ForwardSequence(model, std::vector<int32_t>(ids.begin() + begin, ids.begin() + end));
    for (int64_t target = std::max(scored_until, begin + 1); target < end; ++target) {
      const float* row = &out.logits[(target - 1 - begin) * vocab];
      nll.push_back(ops::LogSumExp(row, vocab) - static_cast<double>(row[ids[target]]));
    }
    scored_until = std::max(scored_until, end);
    if (end == n) break;
  }
  return nll;
}

TEST(EvaluationTest, ChunkedWindowsScoreBitForBitAsOneForward) {
  for (const ops::Precision precision : {ops::Precision::kExact, ops::Precision::kFast}) {
    auto model = Model::Load(testing::ModelFixtureDir() + "/models/tiny");
    model->SetPrecision(precision);
    // 1300 tokens: windows of 3 chunks (1300) and of 2 overlapping ones.
    const std::vector<int32_t> ids = RandomIds(1300, model->config().vocab_size, 7);
    ASSERT_GT(1300, 2 * kPerplexityChunk);
    for (const auto& [window, stride] : {std::pair<int64_t, int64_t>{1300, 1300}, {700, 350}}) {
      const PerplexityResult r = Perplexity(*model, ids, window, stride);
      const std::vector<double> expected = WholeWindowNll(*model, ids, window, stride);
      ASSERT_EQ(r.token_nll.size(), expected.size()) << window << "/" << stride;
      for (size_t i = 0; i < expected.size(); ++i)
        ASSERT_EQ(r.token_nll[i], expected[i]) << "token " << i << ", window " << window;
    }
  }
}

TEST(EvaluationTest, WindowsWithoutOverlapCountOnlyTheTokensTheyScore) {
  const auto model = Model::Load(testing::ModelFixtureDir() + "/models/tiny");
  const std::vector<int32_t> ids = RandomIds(350, model->config().vocab_size, 11);
  // Windows [0,100) [100,200) [200,300) [300,350): each but the first loses
  // its first token (no context inside the window).
  const PerplexityResult r = Perplexity(*model, ids, 100, 100);
  EXPECT_EQ(r.tokens, 99 + 99 + 99 + 49);
  ASSERT_EQ(static_cast<int64_t>(r.token_nll.size()), r.tokens);
  double sum = 0;
  for (double v : r.token_nll) sum += v;
  EXPECT_EQ(r.mean_nll, sum / static_cast<double>(r.tokens));
  EXPECT_EQ(r.perplexity, std::exp(r.mean_nll));
  // Overlapping windows score every token but the first.
  EXPECT_EQ(Perplexity(*model, ids, 100, 50).tokens, 349);
}

TEST(EvaluationTest, ProgressCountsEachForwardUpToTheTokensScored) {
  const auto model = Model::Load(testing::ModelFixtureDir() + "/models/tiny");
  const std::vector<int32_t> ids = RandomIds(1300, model->config().vocab_size, 3);
  for (const auto& [window, stride] : {std::pair<int64_t, int64_t>{1300, 1300}, {100, 100}}) {
    std::vector<std::pair<int64_t, int64_t>> reports;
    const PerplexityResult r =
        Perplexity(*model, ids, window, stride, nullptr,
                   [&](int64_t scored, int64_t total) { reports.emplace_back(scored, total); });
    // One report per forward: 3 chunks of one window, or 13 windows of one.
    EXPECT_EQ(reports.size(), window == 1300 ? 3u : 13u);
    for (size_t i = 0; i < reports.size(); ++i) {
      EXPECT_EQ(reports[i].second, r.tokens);
      if (i > 0) {
        EXPECT_GT(reports[i].first, reports[i - 1].first);
      }
    }
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.back().first, r.tokens);
  }
}

}  // namespace
}  // namespace talkie::model
