// Tier 1: the SIMD attention kernel against the plain reference on odd sizes
// and masks, including a query that sees no key at all.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/number_formats.h"
#include "ops/attention.h"

namespace talkie::ops {
namespace {

TEST(AttentionTest, AgreesWithTheReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  for (int64_t head_dim : {20, 64, 128}) {
    for (int64_t kv_len : {1, 2, 17, 100}) {
      const int64_t stride = head_dim * 3;  // keys of one head inside wider rows
      std::vector<float> q(head_dim), keys(kv_len * stride), values(kv_len * stride);
      for (auto& v : q) v = normal(rng);
      for (auto& v : keys) v = normal(rng);
      for (auto& v : values) v = normal(rng);
      for (int pattern = 0; pattern < 3; ++pattern) {
        std::vector<uint8_t> visible(kv_len);
        for (int64_t j = 0; j < kv_len; ++j)
          visible[j] = pattern == 0 ? 1 : pattern == 1 ? (j % 3 != 1) : 0;
        std::vector<float> p_fast(kv_len), p_ref(kv_len), o_fast(head_dim, 9), o_ref(head_dim, 9);
        const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        AttendOneQuery(q.data(), keys.data(), values.data(), stride, kv_len, head_dim,
                       visible.data(), scale, p_fast.data(), o_fast.data());
        AttendOneQueryReference(q.data(), keys.data(), values.data(), stride, kv_len, head_dim,
                                visible.data(), scale, p_ref.data(), o_ref.data());
        double sum = 0;
        for (int64_t j = 0; j < kv_len; ++j) {
          EXPECT_NEAR(p_fast[j], p_ref[j], 2e-6) << head_dim << " " << kv_len << " " << pattern;
          if (!visible[j]) {
            EXPECT_EQ(p_fast[j], 0.0f);
          }
          sum += p_fast[j];
        }
        if (pattern == 2) {
          EXPECT_EQ(sum, 0.0);
        } else {
          EXPECT_NEAR(sum, 1.0, 1e-6);
        }
        for (int64_t d = 0; d < head_dim; ++d) EXPECT_NEAR(o_fast[d], o_ref[d], 1e-5) << d;
      }
    }
  }
}

// bf16 keys / values (the fast policy's cache) widen exactly, so the bf16
// kernel must give the float kernel's bits on the widened data.
TEST(AttentionTest, Bf16KeysAndValuesGiveTheBitsOfTheirWidenedFloats) {
  std::mt19937 rng(12);
  std::normal_distribution<float> normal;
  for (int64_t head_dim : {20, 37, 128}) {
    for (int64_t kv_len : {1, 17, 100}) {
      const int64_t stride = head_dim * 2 + 3;
      std::vector<float> q(head_dim), keys(kv_len * stride), values(kv_len * stride);
      std::vector<uint16_t> keys16(keys.size()), values16(values.size());
      for (auto& v : q) v = normal(rng);
      for (size_t i = 0; i < keys.size(); ++i) {
        keys16[i] = FloatToBf16(normal(rng));
        values16[i] = FloatToBf16(normal(rng));
        keys[i] = Bf16ToFloat(keys16[i]);
        values[i] = Bf16ToFloat(values16[i]);
      }
      std::vector<uint8_t> visible(kv_len);
      for (int64_t j = 0; j < kv_len; ++j) visible[j] = j % 4 != 2;
      std::vector<float> p32(kv_len), p16(kv_len), o32(head_dim), o16(head_dim);
      const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
      AttendOneQuery(q.data(), keys.data(), values.data(), stride, kv_len, head_dim, visible.data(),
                     scale, p32.data(), o32.data());
      AttendOneQueryBf16(q.data(), keys16.data(), values16.data(), stride, kv_len, head_dim,
                         visible.data(), scale, p16.data(), o16.data());
      EXPECT_EQ(p32, p16) << head_dim << " " << kv_len;
      EXPECT_EQ(o32, o16) << head_dim << " " << kv_len;
    }
  }
}

}  // namespace
}  // namespace talkie::ops
