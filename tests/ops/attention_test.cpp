// Tier 1: the SIMD attention kernel against the plain reference on odd sizes
// and masks, including a query that sees no key at all, on every SIMD target
// this CPU supports; and the step-level task loop (AttendCausal) against the
// reference applied query by query.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/number_formats.h"
#include "for_each_target.h"
#include "ops/attention.h"
#include "ops/parallel.h"

namespace talkie::ops {
namespace {

TEST(AttentionTest, AgreesWithTheReference) {
  ForEachTarget([&](const char*) {
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
  });
}

// bf16 keys / values (the fast policy's cache) widen exactly, so the bf16
// kernel must give the float kernel's bits on the widened data.
TEST(AttentionTest, Bf16KeysAndValuesGiveTheBitsOfTheirWidenedFloats) {
  ForEachTarget([&](const char*) {
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
        AttendOneQuery(q.data(), keys.data(), values.data(), stride, kv_len, head_dim,
                       visible.data(), scale, p32.data(), o32.data());
        AttendOneQueryBf16(q.data(), keys16.data(), values16.data(), stride, kv_len, head_dim,
                           visible.data(), scale, p16.data(), o16.data());
        EXPECT_EQ(p32, p16) << head_dim << " " << kv_len;
        EXPECT_EQ(o32, o16) << head_dim << " " << kv_len;
      }
    }
  });
}

// Four queries at once (prefill) read each key row once for all of them; each
// query must still get AttendOneQuery's bits, with causal rows, padding that
// hides keys from all four, a query that sees nothing, and head sizes with
// and without a vector tail, over float and bf16 caches.
TEST(AttentionTest, FourQueriesAtOnceGiveEachQuerysOwnBits) {
  ForEachTarget([&](const char* target) {
    std::mt19937 rng(21);
    std::normal_distribution<float> normal;
    for (int64_t head_dim : {20, 64, 128}) {
      for (int64_t kv_len : {4, 19, 150}) {
        const int64_t stride = head_dim * 3 + 1;
        std::vector<float> keys(kv_len * stride), values(kv_len * stride);
        std::vector<uint16_t> keys16(keys.size()), values16(values.size());
        for (size_t i = 0; i < keys.size(); ++i) {
          keys16[i] = FloatToBf16(normal(rng));
          values16[i] = FloatToBf16(normal(rng));
          keys[i] = normal(rng);
          values[i] = normal(rng);
        }
        std::vector<std::vector<float>> q(4, std::vector<float>(head_dim));
        std::vector<std::vector<uint8_t>> visible(4, std::vector<uint8_t>(kv_len));
        for (int i = 0; i < 4; ++i) {
          for (auto& v : q[i]) v = normal(rng);
          for (int64_t j = 0; j < kv_len; ++j)  // causal rows over a padded cache
            visible[i][j] = j <= kv_len - 4 + i && j % 7 != 3 && (i != 2 || kv_len > 4);
        }
        const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
        for (const bool bf16 : {false, true}) {
          std::vector<std::vector<float>> p(4, std::vector<float>(kv_len)), o(4), p1 = p, o1(4);
          const float* qs[4];
          const uint8_t* vis[4];
          float *ps[4], *os[4];
          for (int i = 0; i < 4; ++i) {
            o[i].assign(head_dim, -1.0f);
            o1[i].assign(head_dim, -1.0f);
            qs[i] = q[i].data(), vis[i] = visible[i].data(), ps[i] = p[i].data();
            os[i] = o[i].data();
            if (bf16)
              AttendOneQueryBf16(qs[i], keys16.data(), values16.data(), stride, kv_len, head_dim,
                                 vis[i], scale, p1[i].data(), o1[i].data());
            else
              AttendOneQuery(qs[i], keys.data(), values.data(), stride, kv_len, head_dim, vis[i],
                             scale, p1[i].data(), o1[i].data());
          }
          if (bf16)
            AttendFourQueriesBf16(qs, keys16.data(), values16.data(), stride, kv_len, head_dim, vis,
                                  scale, ps, os);
          else
            AttendFourQueries(qs, keys.data(), values.data(), stride, kv_len, head_dim, vis, scale,
                              ps, os);
          for (int i = 0; i < 4; ++i) {
            ASSERT_EQ(0, std::memcmp(p[i].data(), p1[i].data(), kv_len * sizeof(float)))
                << target << " " << head_dim << " " << kv_len << " query " << i;
            ASSERT_EQ(0, std::memcmp(o[i].data(), o1[i].data(), head_dim * sizeof(float)))
                << target << " " << head_dim << " " << kv_len << " query " << i;
          }
        }
      }
    }
  });
}

// Two sequences of one step with different cache lengths and masked keys,
// over float and bf16 caches: every (sequence, head, query) of AttendCausal
// must equal the reference on the keys that query may see (slots <= past + t
// with mask 1), its recorded weights included, and 1 or 3 threads must give
// the same bits.
TEST(AttentionTest, AttendCausalAgreesWithTheReferencePerQuery) {
  const int64_t n_head = 3, head_dim = 20, width = n_head * head_dim;
  struct Seq {
    int64_t past, q_len;
  };
  const Seq shape[] = {{5, 3}, {0, 4}};
  std::mt19937 rng(13);
  std::normal_distribution<float> normal;
  for (const KvType type : {KvType::kF32, KvType::kBF16}) {
    int64_t rows = 0;
    for (const Seq& s : shape) rows += s.q_len;
    std::vector<float> q(static_cast<size_t>(rows * width));
    for (auto& v : q) v = normal(rng);
    // Per sequence: keys / values as floats (bf16-representable for kBF16)
    // and as stored, a mask with one padded slot, and a weights record.
    std::vector<std::vector<float>> k32(2), v32(2), probs(2);
    std::vector<std::vector<uint16_t>> k16(2), v16(2);
    std::vector<std::vector<uint8_t>> masks(2);
    std::vector<AttentionSequence> seqs(2);
    int64_t first_row = 0;
    for (size_t i = 0; i < 2; ++i) {
      const int64_t kv_len = shape[i].past + shape[i].q_len;
      for (int64_t e = 0; e < kv_len * width; ++e) {
        k16[i].push_back(FloatToBf16(normal(rng)));
        v16[i].push_back(FloatToBf16(normal(rng)));
        k32[i].push_back(type == KvType::kBF16 ? Bf16ToFloat(k16[i].back()) : normal(rng));
        v32[i].push_back(type == KvType::kBF16 ? Bf16ToFloat(v16[i].back()) : normal(rng));
      }
      masks[i].assign(static_cast<size_t>(kv_len), 1);
      masks[i][1] = 0;
      probs[i].assign(static_cast<size_t>(n_head * shape[i].q_len * kv_len), -1.0f);
      AttentionSequence& s = seqs[i];
      s.kv = type == KvType::kF32 ? KvView{type, k32[i].data(), v32[i].data(), width}
                                  : KvView{type, k16[i].data(), v16[i].data(), width};
      s.first_row = first_row;
      s.q_len = shape[i].q_len;
      s.past = shape[i].past;
      s.kv_len = kv_len;
      s.mask = masks[i].data();
      s.probs = probs[i].data();
      first_row += s.q_len;
    }
    AttentionScratch scratch;
    std::vector<float> out(q.size(), 7.0f), out_threads(q.size(), 7.0f);
    SetNumThreads(1);
    AttendCausal(q.data(), n_head, head_dim, seqs, scratch, out.data());
    const std::vector<std::vector<float>> probs_one_thread = probs;
    SetNumThreads(3);
    AttendCausal(q.data(), n_head, head_dim, seqs, scratch, out_threads.data());
    SetNumThreads(0);
    EXPECT_EQ(std::memcmp(out.data(), out_threads.data(), out.size() * sizeof(float)), 0);
    EXPECT_EQ(probs, probs_one_thread);

    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    for (size_t i = 0; i < 2; ++i) {
      const AttentionSequence& s = seqs[i];
      for (int64_t hd = 0; hd < n_head; ++hd) {
        for (int64_t t = 0; t < s.q_len; ++t) {
          std::vector<uint8_t> visible(static_cast<size_t>(s.kv_len));
          for (int64_t j = 0; j < s.kv_len; ++j) visible[j] = j <= s.past + t && masks[i][j];
          std::vector<float> p_ref(static_cast<size_t>(s.kv_len)), o_ref(head_dim);
          const int64_t row = s.first_row + t, col = hd * head_dim;
          AttendOneQueryReference(&q[row * width + col], k32[i].data() + col, v32[i].data() + col,
                                  width, s.kv_len, head_dim, visible.data(), scale, p_ref.data(),
                                  o_ref.data());
          for (int64_t d = 0; d < head_dim; ++d)
            EXPECT_NEAR(out[row * width + col + d], o_ref[d], 1e-5)
                << "type " << int(type) << " seq " << i << " head " << hd << " t " << t;
          for (int64_t j = 0; j < s.kv_len; ++j) {
            const float p = probs[i][(hd * s.q_len + t) * s.kv_len + j];
            EXPECT_NEAR(p, p_ref[j], 2e-6) << "seq " << i << " head " << hd << " t " << t;
            if (!visible[j]) {
              EXPECT_EQ(p, 0.0f) << "a key the query may not see got weight";
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace talkie::ops
