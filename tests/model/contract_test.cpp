// The KV-cache API of the inference contract (spec §5): decode and re-feed
// regimes, rollback, copying a prefix into several continuations, explicit
// position ids, context limit, and every bad argument named in its error.
#include <random>

#include "common/error.h"
#include "fixtures.h"
#include "model/batch_plan.h"
#include "model/forward.h"

namespace talkie {
namespace {

using model::ForwardInput;
using model::ForwardOutput;
using model::KvCache;

const model::Model& Small() {
  static auto m = model::Model::Load(testing::ModelFixtureDir() + "/models/small");
  return *m;
}

// The same weights under the fast policy (its cache stores bf16 K/V).
const model::Model& SmallFast() {
  static auto m = [] {
    auto fast = model::Model::Load(testing::ModelFixtureDir() + "/models/small");
    fast->SetPrecision(ops::Precision::kFast);
    return fast;
  }();
  return *m;
}

std::vector<int32_t> Ids(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int32_t>(rng() % Small().config().vocab_size);
  return ids;
}

ForwardInput One(const std::vector<int32_t>& ids) {
  ForwardInput in;
  in.q_len = static_cast<int64_t>(ids.size());
  in.ids = ids;
  in.output_hidden_states = true;
  return in;
}

std::vector<float> Row(const std::vector<float>& v, int64_t row, int64_t width) {
  return {v.begin() + row * width, v.begin() + (row + 1) * width};
}

TEST(ContractTest, DecodeAndRefeedRegimesMatchPrefill) {
  const auto& m = Small();
  const int64_t vocab = m.config().vocab_size;
  const auto ids = Ids(12, 1);
  KvCache full_cache(m.config(), 1);
  const ForwardOutput full = model::Forward(m, full_cache, One(ids));

  // Prefill 5, re-feed 4 (lower-right causal), then decode 3 one at a time.
  KvCache cache(m.config(), 1);
  model::Forward(m, cache, One({ids.begin(), ids.begin() + 5}));
  const ForwardOutput refeed = model::Forward(m, cache, One({ids.begin() + 5, ids.begin() + 9}));
  for (int64_t t = 0; t < 4; ++t)
    EXPECT_TRUE(testing::BytesEqual(Row(refeed.logits, t, vocab), Row(full.logits, 5 + t, vocab)))
        << t;
  EXPECT_EQ(refeed.position_ids, (std::vector<int64_t>{5, 6, 7, 8}));
  for (int64_t t = 9; t < 12; ++t) {
    const ForwardOutput step = model::Forward(m, cache, One({ids[t]}));
    EXPECT_TRUE(testing::BytesEqual(step.logits, Row(full.logits, t, vocab))) << t;
  }
  EXPECT_EQ(cache.length(), 12);
}

void ExpectTruncateRollsBackAndRefeedGivesTheSameBytes(const model::Model& m) {
  const int64_t vocab = m.config().vocab_size;
  const auto ids = Ids(10, 2);
  KvCache cache(m.config(), 1);
  const ForwardOutput first = model::Forward(m, cache, One(ids));
  cache.Truncate(6);
  EXPECT_EQ(cache.length(), 6);
  const ForwardOutput again = model::Forward(m, cache, One({ids.begin() + 6, ids.end()}));
  for (int64_t t = 0; t < 4; ++t)
    EXPECT_TRUE(testing::BytesEqual(Row(again.logits, t, vocab), Row(first.logits, 6 + t, vocab)));
  // A different continuation after rollback equals a fresh run of that text.
  cache.Truncate(6);
  std::vector<int32_t> other(ids.begin(), ids.begin() + 6);
  other.push_back(3);
  const ForwardOutput branch = model::Forward(m, cache, One({3}));
  const ForwardOutput fresh = model::ForwardSequence(m, other);
  EXPECT_TRUE(testing::BytesEqual(branch.logits, Row(fresh.logits, 6, vocab)));
  cache.Clear();
  EXPECT_EQ(cache.length(), 0);
}

TEST(ContractTest, TruncateRollsBackAndRefeedGivesTheSameBytes) {
  ExpectTruncateRollsBackAndRefeedGivesTheSameBytes(Small());
  ExpectTruncateRollsBackAndRefeedGivesTheSameBytes(SmallFast());
}

void ExpectSelectRowsCopiesOnePrefixIntoSeveralContinuations(const model::Model& m) {
  const int64_t vocab = m.config().vocab_size;
  const auto prefix = Ids(7, 3);
  KvCache cache(m.config(), 1);
  model::Forward(m, cache, One(prefix));
  KvCache three = cache.SelectRows({0, 0, 0});
  EXPECT_EQ(three.batch(), 3);
  ForwardInput in;
  in.batch = 3;
  in.q_len = 1;
  in.ids = {11, 22, 33};
  const ForwardOutput out = model::Forward(m, three, in);
  for (int64_t b = 0; b < 3; ++b) {
    std::vector<int32_t> seq = prefix;
    seq.push_back(in.ids[b]);
    const ForwardOutput alone = model::ForwardSequence(m, seq);
    EXPECT_TRUE(testing::BytesEqual(Row(out.logits, b, vocab), Row(alone.logits, 7, vocab))) << b;
  }
  EXPECT_EQ(cache.length(), 7);  // the source is untouched
}

TEST(ContractTest, SelectRowsCopiesOnePrefixIntoSeveralContinuations) {
  ExpectSelectRowsCopiesOnePrefixIntoSeveralContinuations(Small());
  ExpectSelectRowsCopiesOnePrefixIntoSeveralContinuations(SmallFast());
}

TEST(ContractTest, CacheElementTypeFollowsThePolicyAndIsNotMixed) {
  const auto ids = Ids(5, 4);
  KvCache exact_cache(Small().config(), 1), fast_cache(Small().config(), 1);
  model::Forward(Small(), exact_cache, One(ids));
  model::Forward(SmallFast(), fast_cache, One(ids));
  EXPECT_EQ(exact_cache.type(), model::KvType::kF32);
  EXPECT_EQ(fast_cache.type(), model::KvType::kBF16);
  // Keys filled under one policy are not read under the other.
  try {
    model::Forward(SmallFast(), exact_cache, One({1}));
    ADD_FAILURE() << "mixed cache accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other precision policy"), std::string::npos) << e.what();
  }
  EXPECT_EQ(exact_cache.length(), 5);  // unchanged by the refused call
  exact_cache.Clear();
  model::Forward(SmallFast(), exact_cache, One(ids));  // an emptied cache can switch
  EXPECT_EQ(exact_cache.type(), model::KvType::kBF16);
}

TEST(ContractTest, ExplicitPositionIdsEqualDerivedOnes) {
  const auto& m = Small();
  ForwardInput in;
  in.batch = 2;
  in.q_len = 5;
  in.ids = {0, 0, 7, 8, 9, 1, 2, 3, 4, 5};
  in.attention_mask = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  KvCache a(m.config(), 2), b(m.config(), 2);
  const ForwardOutput derived = model::Forward(m, a, in);
  EXPECT_EQ(derived.position_ids,
            (std::vector<int64_t>{model::kPaddingPosition, model::kPaddingPosition, 0, 1, 2, 0, 1,
                                  2, 3, 4}));
  in.position_ids = derived.position_ids;
  const ForwardOutput given = model::Forward(m, b, in);
  EXPECT_TRUE(testing::BytesEqual(derived.logits, given.logits));
}

TEST(ContractTest, MaskCoveringOnlyNewTokensIsFrontPaddedWithOnes) {
  const auto& m = Small();
  const auto ids = Ids(6, 4);
  KvCache a(m.config(), 1), b(m.config(), 1);
  model::Forward(m, a, One({ids.begin(), ids.begin() + 4}));
  model::Forward(m, b, One({ids.begin(), ids.begin() + 4}));
  ForwardInput short_mask = One({ids.begin() + 4, ids.end()});
  short_mask.attention_mask = {1, 1};
  ForwardInput full_mask = One({ids.begin() + 4, ids.end()});
  full_mask.attention_mask = {1, 1, 1, 1, 1, 1};
  EXPECT_TRUE(testing::BytesEqual(model::Forward(m, a, short_mask).logits,
                                  model::Forward(m, b, full_mask).logits));
}

TEST(ContractTest, LogitsForSelectedPositionsOnly) {
  const auto& m = Small();
  const int64_t vocab = m.config().vocab_size;
  const auto ids = Ids(8, 5);
  const ForwardOutput all = model::ForwardSequence(m, ids);
  ForwardInput in = One(ids);
  in.logits = model::LogitsFor::kSelected;
  in.logit_positions = {6, 2};
  KvCache cache(m.config(), 1);
  const ForwardOutput some = model::Forward(m, cache, in);
  ASSERT_EQ(some.logits.size(), static_cast<size_t>(2 * vocab));
  EXPECT_TRUE(testing::BytesEqual(Row(some.logits, 0, vocab), Row(all.logits, 6, vocab)));
  EXPECT_TRUE(testing::BytesEqual(Row(some.logits, 1, vocab), Row(all.logits, 2, vocab)));
  in.logits = model::LogitsFor::kLast;
  KvCache cache2(m.config(), 1);
  EXPECT_TRUE(testing::BytesEqual(model::Forward(m, cache2, in).logits, Row(all.logits, 7, vocab)));
}

// Runs Forward and returns the error message ("" when it did not throw).
std::string ErrorOf(const ForwardInput& in, KvCache* cache = nullptr) {
  KvCache local(Small().config(), in.batch > 0 ? in.batch : 1);
  try {
    model::Forward(Small(), cache ? *cache : local, in);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ContractTest, BadArgumentsAreNamedInTheError) {
  ForwardInput in = One({1, 2, 3});
  EXPECT_NE(ErrorOf(One({})).find("empty id list"), std::string::npos);

  ForwardInput bad_id = One({1, 4100, 3});
  EXPECT_NE(ErrorOf(bad_id).find("token id 4100"), std::string::npos);
  ForwardInput negative_id = One({-1});
  EXPECT_NE(ErrorOf(negative_id).find("input_ids"), std::string::npos);

  ForwardInput ids_shape = in;
  ids_shape.q_len = 4;
  EXPECT_NE(ErrorOf(ids_shape).find("input_ids"), std::string::npos);

  ForwardInput mask_shape = in;
  mask_shape.attention_mask = {1, 1};
  EXPECT_NE(ErrorOf(mask_shape).find("attention_mask"), std::string::npos);

  ForwardInput mask_value = in;
  mask_value.attention_mask = {1, 2, 1};
  EXPECT_NE(ErrorOf(mask_value).find("attention_mask"), std::string::npos);

  ForwardInput no_real = in;
  no_real.attention_mask = {0, 0, 0};
  EXPECT_NE(ErrorOf(no_real).find("row 0 has no real token"), std::string::npos);

  ForwardInput pos_shape = in;
  pos_shape.position_ids = {0, 1};
  EXPECT_NE(ErrorOf(pos_shape).find("position_ids"), std::string::npos);

  ForwardInput pos_negative = in;
  pos_negative.position_ids = {0, -1, 2};
  EXPECT_NE(ErrorOf(pos_negative).find("position_ids: position -1"), std::string::npos);

  ForwardInput pos_past_table = in;
  pos_past_table.position_ids = {0, 1, 2048};
  EXPECT_NE(ErrorOf(pos_past_table).find("outside the RoPE table"), std::string::npos);

  ForwardInput selected = in;
  selected.logits = model::LogitsFor::kSelected;
  selected.logit_positions = {3};
  EXPECT_NE(ErrorOf(selected).find("logit_positions"), std::string::npos);

  KvCache batch_two(Small().config(), 2);
  EXPECT_NE(ErrorOf(in, &batch_two).find("kv cache: batch size 2"), std::string::npos);

  KvCache cache(Small().config(), 1);
  model::Forward(Small(), cache, in);
  try {
    cache.Truncate(4);
    ADD_FAILURE() << "truncating past the cache length must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot truncate to 4"), std::string::npos);
  }
  EXPECT_EQ(cache.length(), 3);
}

TEST(ContractTest, ContextLimitIsAClearErrorAndLeavesTheCacheUnchanged) {
  KvCache cache(Small().config(), 1, 8);
  model::Forward(Small(), cache, One(Ids(6, 6)));
  const std::string message = ErrorOf(One(Ids(3, 7)), &cache);
  EXPECT_NE(message.find("context full"), std::string::npos) << message;
  EXPECT_EQ(cache.length(), 6);
  EXPECT_EQ(ErrorOf(One(Ids(2, 8)), &cache), "");
  EXPECT_EQ(cache.length(), 8);
}

}  // namespace
}  // namespace talkie
