// KvCache's typed storage: Write stores float32 as given and bf16 rounded to
// nearest-even, View hands attention the stored elements of the right row,
// layer and type, and writes outside the grown slots or past the context are
// refused with the "context full" error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "common/number_formats.h"
#include "model/kv_cache.h"

namespace talkie::model {
namespace {

ModelConfig TinyConfig() {
  ModelConfig c;
  c.n_layer = 2;
  c.n_embd = 4;
  c.n_head = 1;
  c.head_dim = 4;
  c.max_position_embeddings = 8;
  return c;
}

// Two tokens of n_embd = 4: values that bf16 must round (1 + 2^-9 ties to 1,
// 1 + 3 * 2^-9 ties up to 1 + 2^-7).
const std::vector<float> kKeys = {
    1.0f + 0x1p-9f, 1.0f + 3 * 0x1p-9f, -2.5f, 0.1f, 3.0f, -0.0f, 7.0f, 1e-3f};
const std::vector<float> kValues = {0.5f, 0.25f, -1.0f, 2.0f, 4.0f, 8.0f, -16.0f, 0.3f};

TEST(KvCacheTest, WriteStoresFloatsAsGivenAndViewReadsThemBack) {
  KvCache cache(TinyConfig(), 2);
  cache.Grow(3);
  cache.Write(1, 1, 1, 2, kKeys.data(), kValues.data());
  const ops::KvView view = cache.View(1, 1);
  ASSERT_EQ(view.type, KvType::kF32);
  EXPECT_EQ(view.stride, 4);
  const auto* k = static_cast<const float*>(view.keys);
  const auto* v = static_cast<const float*>(view.values);
  for (size_t i = 0; i < kKeys.size(); ++i) {
    EXPECT_EQ(k[4 + i], kKeys[i]) << i;  // slot 1 onwards
    EXPECT_EQ(v[4 + i], kValues[i]) << i;
  }
  // Other rows and layers are untouched.
  EXPECT_EQ(static_cast<const float*>(cache.View(0, 1).keys)[4], 0.0f);
  EXPECT_EQ(static_cast<const float*>(cache.View(1, 0).keys)[4], 0.0f);
}

TEST(KvCacheTest, Bf16CacheRoundsEachElementToNearestEven) {
  KvCache cache(TinyConfig(), 1);
  cache.SetType(KvType::kBF16);
  cache.Grow(2);
  cache.Write(0, 0, 0, 2, kKeys.data(), kValues.data());
  const ops::KvView view = cache.View(0, 0);
  ASSERT_EQ(view.type, KvType::kBF16);
  const auto* k = static_cast<const uint16_t*>(view.keys);
  const auto* v = static_cast<const uint16_t*>(view.values);
  for (size_t i = 0; i < kKeys.size(); ++i) {
    EXPECT_EQ(k[i], FloatToBf16(kKeys[i])) << i;
    EXPECT_EQ(v[i], FloatToBf16(kValues[i])) << i;
  }
  EXPECT_EQ(Bf16ToFloat(k[0]), 1.0f);
  EXPECT_EQ(Bf16ToFloat(k[1]), 1.0f + 0x1p-7f);
}

TEST(KvCacheTest, WritesOutsideTheGrownSlotsAndGrowthPastTheContextAreRefused) {
  KvCache cache(TinyConfig(), 1);
  cache.Grow(1);
  EXPECT_THROW(cache.Write(0, 0, 0, 2, kKeys.data(), kValues.data()), Error);
  try {
    cache.Grow(8);
    ADD_FAILURE() << "grew past the context";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "context full: 1 cached + 8 new tokens exceed the context limit of 8");
  }
  EXPECT_EQ(cache.length(), 1);
}

// bytes() counts the storage of every layer and row in the cache's element
// type: at least 2 (keys, values) x layers x rows x tokens x n_embd elements.
TEST(KvCacheTest, BytesCoverTheStoredTokensOfEveryLayerAndRow) {
  KvCache empty(TinyConfig(), 3);
  EXPECT_EQ(empty.bytes(), 0);
  KvCache f32(TinyConfig(), 3);
  f32.Grow(5);
  const int64_t elements = 2 * 2 * 3 * 5 * 4;  // k+v, layers, rows, tokens, n_embd
  EXPECT_GE(f32.bytes(), elements * 4);
  KvCache bf16(TinyConfig(), 3);
  bf16.SetType(KvType::kBF16);
  bf16.Grow(5);
  EXPECT_GE(bf16.bytes(), elements * 2);
  EXPECT_LT(bf16.bytes(), f32.bytes());
  // More tokens never report fewer bytes.
  const int64_t before = f32.bytes();
  f32.Grow(3);
  EXPECT_GE(f32.bytes(), before);
  EXPECT_GE(f32.bytes(), 2 * 2 * 3 * 8 * 4 * 4);
}

}  // namespace
}  // namespace talkie::model
