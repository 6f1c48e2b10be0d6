// Helpers the model tests share: fixture models loaded once per process
// (name@fast for the fast precision), random token ids, and a bitwise
// comparison of two runs' outputs.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fixtures.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/prompt_runner.h"

namespace talkie::testing {

// "small" is tests/data/model/models/small; "small@fast" the same model set to
// the fast precision. Loaded once and kept for the process.
inline const model::Model& Fixture(const std::string& name) {
  static std::map<std::string, std::unique_ptr<model::Model>> cache;
  auto& slot = cache[name];
  if (!slot) {
    const size_t at = name.find('@');
    slot = model::Model::Load(ModelFixtureDir() + "/models/" + name.substr(0, at));
    if (at != std::string::npos) slot->SetPrecision(ops::Precision::kFast);
  }
  return *slot;
}

inline std::vector<int32_t> RandomIds(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = dist(rng);
  return ids;
}

// Logits, hidden states and attentions of `a` and `b` are the same bytes.
inline void ExpectIdentical(const model::SequenceOutputs& a, const model::SequenceOutputs& b,
                            const std::string& what) {
  EXPECT_TRUE(BytesEqual(a.logits, b.logits)) << what << ": logits differ";
  ASSERT_EQ(a.hidden_states.size(), b.hidden_states.size()) << what;
  for (size_t i = 0; i < a.hidden_states.size(); ++i)
    EXPECT_TRUE(BytesEqual(a.hidden_states[i], b.hidden_states[i]))
        << what << ": hidden_states." << i;
  ASSERT_EQ(a.attentions.size(), b.attentions.size()) << what;
  for (size_t l = 0; l < a.attentions.size(); ++l)
    EXPECT_TRUE(BytesEqual(a.attentions[l], b.attentions[l])) << what << ": attentions." << l;
}

// Feeding `ids` one token at a time through the KV cache gives, at every
// step, the bytes of that position's logits in one whole forward (`whole`).
inline void ExpectCachedDecodeEqualsWhole(const model::Model& m, const std::vector<int32_t>& ids,
                                          const model::ForwardOutput& whole,
                                          const std::string& what) {
  model::KvCache cache(m.config(), 1);
  const int64_t vocab = m.config().vocab_size;
  for (size_t t = 0; t < ids.size(); ++t) {
    model::ForwardInput in;
    in.q_len = 1;
    in.ids = {ids[t]};
    const model::ForwardOutput step = model::Forward(m, cache, in);
    ASSERT_EQ(
        std::memcmp(step.logits.data(), whole.logits.data() + t * vocab, vocab * sizeof(float)), 0)
        << what << " token " << t;
  }
}

}  // namespace talkie::testing
