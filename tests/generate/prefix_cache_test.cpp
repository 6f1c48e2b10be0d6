// Prompt reuse (issue #17): the prefix cache's matching, hand-over and
// eviction, and that generation resumed from a cached prefix gives the bits
// of a whole prefill, in both policies.
#include "generate/prefix_cache.h"

#include <map>

#include "../model/fixtures.h"
#include "generate/generator.h"
#include "generation_configs.h"
#include "test_tokenizer.h"

namespace talkie {
namespace {

using generate::GenerationConfig;
using generate::Generator;
using generate::PrefixCache;

const model::ModelConfig& SmallCacheConfig() {
  static const model::ModelConfig config = [] {
    model::ModelConfig c;
    c.n_layer = 2;
    c.n_embd = 8;
    c.n_head = 2;
    c.head_dim = 4;
    c.vocab_size = 16;
    c.max_position_embeddings = 64;
    return c;
  }();
  return config;
}

// A cache holding n tokens whose keys are their slot numbers.
model::KvCache Filled(int64_t n) {
  model::KvCache cache(SmallCacheConfig(), 1);
  cache.Grow(n);
  std::vector<float> kv(static_cast<size_t>(n * SmallCacheConfig().n_embd));
  for (size_t i = 0; i < kv.size(); ++i) kv[i] = static_cast<float>(i);
  for (int64_t l = 0; l < SmallCacheConfig().n_layer; ++l)
    cache.Write(l, 0, 0, n, kv.data(), kv.data());
  return cache;
}

std::vector<int32_t> Range(int32_t from, int32_t to) {
  std::vector<int32_t> v;
  for (int32_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

constexpr auto kF32 = model::KvType::kF32;

TEST(PrefixCacheTest, TheLongestPrefixIsFoundAndTheLastPromptTokenIsLeftToFeed) {
  PrefixCache cache(1 << 20);
  cache.Insert(Range(0, 4), Filled(4), nullptr);
  cache.Insert(Range(0, 10), Filled(10), nullptr);  // replaces the first: it extends it
  EXPECT_EQ(cache.entries(), 1);
  cache.Insert({0, 1, 2, 9, 9}, Filled(5), nullptr);
  EXPECT_EQ(cache.entries(), 2);

  std::vector<int32_t> prompt = Range(0, 7);
  prompt.push_back(42);
  PrefixCache::Hit hit = cache.Lookup(prompt, nullptr, kF32);
  EXPECT_EQ(hit.tokens, 7);
  EXPECT_EQ(hit.cache.length(), 7);
  EXPECT_EQ(hit.cache.keys(1, 0)[7 * 8 - 1], 7.0f * 8 - 1);  // the prefix's own values
  EXPECT_EQ(cache.entries(), 2);                             // a partial match is copied

  // A prompt equal to a held entry still feeds its last token.
  hit = cache.Lookup(Range(0, 10), nullptr, kF32);
  EXPECT_EQ(hit.tokens, 9);
  EXPECT_EQ(cache.Lookup(std::vector<int32_t>{5, 6}, nullptr, kF32).tokens, 0);
  EXPECT_EQ(cache.Lookup(std::vector<int32_t>{0}, nullptr, kF32).tokens, 0);
}

TEST(PrefixCacheTest, AWhollyCoveredEntryIsHandedOver) {
  PrefixCache cache(1 << 20);
  cache.Insert(Range(0, 6), Filled(6), nullptr);
  const PrefixCache::Hit hit = cache.Lookup(Range(0, 9), nullptr, kF32);
  EXPECT_EQ(hit.tokens, 6);
  EXPECT_EQ(cache.entries(), 0);
  EXPECT_EQ(cache.bytes(), 0);
}

TEST(PrefixCacheTest, OnlyTheSameKeyAndElementTypeMatch) {
  PrefixCache cache(1 << 20);
  const auto steering = std::make_shared<int>(1);
  cache.Insert(Range(0, 6), Filled(6), steering);
  EXPECT_EQ(cache.Lookup(Range(0, 9), nullptr, kF32).tokens, 0);
  EXPECT_EQ(cache.Lookup(Range(0, 9), std::make_shared<int>(1), kF32).tokens, 0);
  EXPECT_EQ(cache.Lookup(Range(0, 9), steering, model::KvType::kBF16).tokens, 0);
  EXPECT_EQ(cache.Lookup(Range(0, 9), steering, kF32).tokens, 6);
}

TEST(PrefixCacheTest, TheLeastRecentlyUsedGoFirstPastTheByteAndEntryBudgets) {
  const int64_t one = Filled(8).bytes();
  PrefixCache cache(3 * one, 64);
  for (int32_t e = 0; e < 4; ++e) cache.Insert(Range(100 * e, 100 * e + 8), Filled(8), nullptr);
  EXPECT_EQ(cache.entries(), 3);  // entry 0 evicted
  EXPECT_LE(cache.bytes(), 3 * one);
  EXPECT_EQ(cache.Lookup(Range(0, 9), nullptr, kF32).tokens, 0);
  // Using entry 1 (a partial match) makes entry 2 the oldest.
  std::vector<int32_t> p = Range(100, 104);
  p.push_back(7);
  EXPECT_EQ(cache.Lookup(p, nullptr, kF32).tokens, 4);
  cache.Insert(Range(400, 408), Filled(8), nullptr);
  EXPECT_EQ(cache.Lookup(Range(200, 209), nullptr, kF32).tokens, 0);
  EXPECT_EQ(cache.Lookup(Range(100, 109), nullptr, kF32).tokens, 8);

  PrefixCache two_entries(1 << 20, 2);
  for (int32_t e = 0; e < 3; ++e)
    two_entries.Insert(Range(100 * e, 100 * e + 8), Filled(8), nullptr);
  EXPECT_EQ(two_entries.entries(), 2);
  PrefixCache too_small(one - 1);
  too_small.Insert(Range(0, 8), Filled(8), nullptr);
  EXPECT_EQ(too_small.entries(), 0);
  EXPECT_THROW(two_entries.Insert(Range(0, 3), Filled(4), nullptr), Error);
}

TEST(PrefixCacheTest, KvCachePrefixCopiesOnlyTheFirstTokens) {
  const model::KvCache full = Filled(10);
  const model::KvCache head = full.Prefix(4);
  EXPECT_EQ(head.length(), 4);
  EXPECT_LT(head.bytes(), full.bytes());
  for (int64_t i = 0; i < 4 * 8; ++i) EXPECT_EQ(head.keys(0, 0)[i], full.keys(0, 0)[i]);
  EXPECT_THROW(full.Prefix(11), Error);
}

// Every logits row a generation sampled from, and its tokens.
struct Recorded {
  std::vector<std::vector<float>> rows;
  std::vector<int32_t> ids;
  int64_t cached = 0;
};

Recorded RecordRun(Generator& g, const std::vector<int32_t>& prompt, const GenerationConfig& config,
                   int64_t chunk) {
  Recorded run;
  g.set_logits_processor(
      [&](size_t, std::span<float> l) { run.rows.emplace_back(l.begin(), l.end()); });
  generate::GenerationStats stats;
  run.ids = g.Generate({prompt}, {config}, {}, &stats, chunk)[0].ids;
  run.cached = stats.cached_tokens;
  return run;
}

// A conversation of three turns: each turn's prompt is the previous prompt,
// its reply and new tokens. With the prefix cache each turn feeds only the
// new tokens, and every logits row is bit-identical to a fresh generator's.
TEST(PrefixCacheTest, ResumedTurnsGiveTheBitsOfAWholePrefillInBothPolicies) {
  for (const char* name : {"small", "tiny"}) {
    for (const ops::Precision precision : {ops::Precision::kExact, ops::Precision::kFast}) {
      auto model = model::Model::Load(testing::ModelFixtureDir() + "/models/" + name);
      model->SetPrecision(precision);
      PrefixCache cache(int64_t{1} << 30);
      Generator reusing(*model);
      reusing.set_prefix_cache(&cache);
      std::vector<int32_t> prompt = {5, 17, 3, 99, 42, 7, 8, 64, 12};
      for (int turn = 0; turn < 3; ++turn) {
        const GenerationConfig config = testing::Greedy(6 + turn);
        Generator fresh(*model);
        const Recorded whole = RecordRun(fresh, prompt, config, 512);
        const Recorded resumed = RecordRun(reusing, prompt, config, turn == 1 ? 2 : 512);
        EXPECT_EQ(whole.cached, 0);
        if (turn > 0) EXPECT_GT(resumed.cached, static_cast<int64_t>(prompt.size()) / 2);
        ASSERT_EQ(resumed.ids, whole.ids) << name << " turn " << turn;
        ASSERT_EQ(resumed.rows.size(), whole.rows.size());
        for (size_t r = 0; r < whole.rows.size(); ++r)
          ASSERT_EQ(0, std::memcmp(resumed.rows[r].data(), whole.rows[r].data(),
                                   whole.rows[r].size() * sizeof(float)))
              << name << " turn " << turn << " row " << r;
        prompt.insert(prompt.end(), whole.ids.begin(), whole.ids.end());
        prompt.insert(prompt.end(), {31, 32, 33});
      }
    }
  }
}

}  // namespace
}  // namespace talkie
