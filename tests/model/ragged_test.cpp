// ForwardRagged (continuous batching): sequences with their own caches, mixing
// prefill chunks and single-token decode rows in one step, get exactly the
// logits bytes each gets alone.
#include <random>

#include "common/error.h"
#include "fixtures.h"
#include "model/forward.h"

namespace talkie {
namespace {

std::vector<float> Row(const std::vector<float>& v, int64_t row, int64_t width) {
  return {v.begin() + row * width, v.begin() + (row + 1) * width};
}

TEST(RaggedTest, MixedPrefillAndDecodeStepsMatchSingleSequenceRuns) {
  const auto m = model::Model::Load(testing::ModelFixtureDir() + "/models/wide-head");
  const int64_t vocab = m->config().vocab_size;
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> texts(3);
  for (auto& t : texts)
    for (int i = 0; i < 13; ++i) t.push_back(static_cast<int32_t>(rng() % vocab));
  std::vector<model::ForwardOutput> alone;
  for (const auto& t : texts) alone.push_back(model::ForwardSequence(*m, t));

  // Sequence 0 starts first and decodes token by token; 1 joins at step 2 with
  // a 5-token prefill chunk; 2 joins at step 4 with its whole prompt at once.
  std::vector<model::KvCache> caches(3, model::KvCache(m->config(), 1));
  std::vector<int64_t> fed(3, 0);
  for (int step = 0; step < 14; ++step) {
    std::vector<model::SequenceStep> steps;
    std::vector<size_t> who;
    for (size_t s = 0; s < 3; ++s) {
      const int start = s == 0 ? 0 : s == 1 ? 2 : 4;
      if (step < start || fed[s] >= 13) continue;
      const int64_t n = s == 0 ? 1 : s == 1 ? std::min<int64_t>(5, 13 - fed[s]) : 13 - fed[s];
      model::SequenceStep st;
      st.cache = &caches[s];
      st.ids.assign(texts[s].begin() + fed[s], texts[s].begin() + fed[s] + n);
      st.logits = model::LogitsFor::kAll;
      steps.push_back(std::move(st));
      who.push_back(s);
    }
    if (steps.empty()) break;
    const auto out = model::ForwardRagged(*m, steps);
    for (size_t i = 0; i < steps.size(); ++i) {
      const size_t s = who[i];
      for (size_t t = 0; t < steps[i].ids.size(); ++t)
        EXPECT_TRUE(
            testing::BytesEqual(Row(out[i], static_cast<int64_t>(t), vocab),
                                Row(alone[s].logits, fed[s] + static_cast<int64_t>(t), vocab)))
            << "seq " << s << " pos " << fed[s] + static_cast<int64_t>(t);
      fed[s] += static_cast<int64_t>(steps[i].ids.size());
    }
  }
  EXPECT_EQ(fed, (std::vector<int64_t>{13, 13, 13}));
}

TEST(RaggedTest, BadStepsAreRejectedBeforeAnyCacheChanges) {
  const auto m = model::Model::Load(testing::ModelFixtureDir() + "/models/tiny");
  model::KvCache a(m->config(), 1), b(m->config(), 1), two(m->config(), 2);
  auto error_of = [&](const std::vector<model::SequenceStep>& steps) -> std::string {
    try {
      model::ForwardRagged(*m, steps);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of({{&a, {1, 2}}, {&b, {}}}).find("sequence 1: empty id list"),
            std::string::npos);
  EXPECT_NE(error_of({{&a, {1}}, {&a, {2}}}).find("shares its kv cache"), std::string::npos);
  EXPECT_NE(error_of({{&two, {1}}}).find("batch-1 kv cache"), std::string::npos);
  EXPECT_NE(error_of({{&a, {1}}, {&b, {1000}}}).find("token id 1000"), std::string::npos);
  EXPECT_EQ(a.length(), 0);
  model::KvCache small(m->config(), 1, 4);
  EXPECT_NE(error_of({{&small, {1, 2, 3, 4, 5}}}).find("context full"), std::string::npos);
  EXPECT_EQ(error_of({{&small, {1, 2, 3, 4}}}), "");
}

}  // namespace
}  // namespace talkie
