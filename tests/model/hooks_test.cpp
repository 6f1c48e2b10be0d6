// Hook points (model/hooks.h): names, shapes, the equations they sit at,
// patching, and the contract's bitwise guarantees with hooks registered.
#include "model/hooks.h"

#include <cmath>
#include <map>
#include <random>

#include "common/error.h"
#include "fixtures.h"
#include "model/forward.h"
#include "model/prompt_runner.h"
#include "model_helpers.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/parallel.h"

namespace talkie {
namespace {

using model::HookCall;
using model::HookPoint;
using model::HookSet;
using testing::ExpectIdentical;
using testing::Fixture;
using testing::RandomIds;

size_t Elements(const HookCall& call) {
  size_t n = 1;
  for (int64_t d : call.shape) n *= static_cast<size_t>(d);
  return n;
}

// Per hook name and sequence: every call's data appended in call order.
struct Recorder {
  std::map<std::pair<std::string, int64_t>, std::vector<float>> data;
  std::map<std::string, std::vector<int64_t>> shapes;  // of the last call
  std::vector<std::string> order;                      // names in call order (sequence 0)

  void Register(HookSet& hooks, const std::string& name) {
    hooks.Add(
        name,
        [this](const HookCall& call) {
          const std::string n = model::HookNameString(call.point, call.layer);
          auto& d = data[{n, call.sequence}];
          d.insert(d.end(), call.data, call.data + Elements(call));
          shapes[n] = call.shape;
          if (call.sequence == 0) order.push_back(n);
        },
        model::HookAccess::kRead);
  }
  const std::vector<float>& Of(const std::string& name, int64_t seq = 0) const {
    return data.at({name, seq});
  }
};

// A hook at every point of every block that reads its tensor and writes the
// same values back (through a copy): a patch that must change no bit.
HookSet IdentityPatchEverywhere() {
  HookSet hooks;
  auto identity = [](const HookCall& call) {
    std::vector<float> copy(call.data, call.data + Elements(call));
    std::copy(copy.begin(), copy.end(), call.data);
  };
  for (int p = 0; p < model::kHookPointCount; ++p) {
    const auto point = static_cast<HookPoint>(p);
    hooks.Add({point, model::IsPerLayer(point) ? model::kEveryLayer : model::kNoLayer}, identity);
  }
  return hooks;
}

model::PromptRunOptions EverythingHooked(int64_t chunk = 0, const HookSet* hooks = nullptr) {
  model::PromptRunOptions o;
  o.chunk = chunk;
  o.output_hidden_states = true;
  o.output_attentions = true;
  o.hooks = hooks;
  return o;
}

model::ForwardOutput RunOne(const model::Model& m, const std::vector<int32_t>& ids,
                            const HookSet* hooks, bool hidden = false) {
  model::KvCache cache(m.config(), 1);
  model::ForwardInput in;
  in.q_len = static_cast<int64_t>(ids.size());
  in.ids = ids;
  in.hooks = hooks;
  in.output_hidden_states = hidden;
  return model::Forward(m, cache, in);
}

TEST(HookNames, EveryNameParsesBackToItsPointAndLayer) {
  model::ModelConfig c;
  c.n_layer = 3;
  const auto names = model::AllHookNames(c);
  EXPECT_EQ(names.size(), 3u + 3u * 14u);
  EXPECT_EQ(names.front(), "hook_embed");
  EXPECT_EQ(names[1], "blocks.0.hook_resid_pre");
  EXPECT_EQ(names.back(), "logits");
  for (const std::string& n : names) {
    const model::HookName h = model::ParseHookName(n);
    EXPECT_EQ(model::HookNameString(h.point, h.layer), n);
  }
  const model::HookName every = model::ParseHookName("blocks.*.mlp.hook_post");
  EXPECT_EQ(every.point, HookPoint::kMlpPost);
  EXPECT_EQ(every.layer, model::kEveryLayer);
}

TEST(HookNames, BadNamesAreOneClearError) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hook_resid_post", "needs its block"},
      {"blocks.2.hook_nope", "unknown hook point 'hook_nope'"},
      {"blocks.x.hook_resid_pre", "'x' is not a non-negative integer"},
      {"blocks.-1.hook_resid_pre", "not a non-negative integer"},
      {"blocks.1.hook_embed", "not a per-block point"},
      {"blocks.1", "expected blocks.{l}.<point>"},
      {"resid_post", "unknown hook point"},
      {"", "unknown hook point"},
  };
  for (const auto& [name, why] : cases) {
    try {
      model::ParseHookName(name);
      ADD_FAILURE() << name << " parsed";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << name << ": " << e.what();
    }
  }
}

TEST(HookNames, ABlockBeyondTheModelIsAnErrorBeforeTheCacheChanges) {
  const model::Model& m = Fixture("tiny");
  HookSet hooks;
  hooks.Add("blocks." + std::to_string(m.config().n_layer) + ".hook_resid_post",
            [](const HookCall&) {});
  model::KvCache cache(m.config(), 1);
  model::ForwardInput in;
  in.q_len = 2;
  in.ids = {1, 2};
  in.hooks = &hooks;
  try {
    model::Forward(m, cache, in);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cache.length(), 0);
  model::SequenceStep step{&cache, {1, 2}, model::LogitsFor::kLast, &hooks};
  EXPECT_THROW(model::ForwardRagged(m, {step}), Error);
  EXPECT_EQ(cache.length(), 0);
}

TEST(Hooks, EveryPointIsCalledOncePerBlockInForwardOrderWithItsShape) {
  const model::Model& m = Fixture("small");
  const model::ModelConfig& c = m.config();
  HookSet hooks;
  Recorder rec;
  for (const std::string& n : model::AllHookNames(c)) rec.Register(hooks, n);
  const int64_t len = 5;
  RunOne(m, RandomIds(len, c.vocab_size, 3), &hooks);
  EXPECT_EQ(rec.order, model::AllHookNames(c));
  const int64_t d = c.n_embd, ff = c.intermediate_size, H = c.n_head, hd = c.head_dim;
  const std::map<std::string, std::vector<int64_t>> expected = {
      {"hook_embed", {len, d}},
      {"blocks.1.hook_resid_pre", {len, d}},
      {"blocks.1.ln1.hook_normalized", {len, d}},
      {"blocks.1.attn.hook_q", {len, H, hd}},
      {"blocks.1.attn.hook_k", {len, H, hd}},
      {"blocks.1.attn.hook_v", {len, H, hd}},
      {"blocks.1.attn.hook_pattern", {H, len, len}},
      {"blocks.1.attn.hook_z", {len, H, hd}},
      {"blocks.1.hook_attn_out", {len, d}},
      {"blocks.1.hook_resid_mid", {len, d}},
      {"blocks.1.ln2.hook_normalized", {len, d}},
      {"blocks.1.mlp.hook_pre", {len, ff}},
      {"blocks.1.mlp.hook_post", {len, ff}},
      {"blocks.1.hook_mlp_out", {len, d}},
      {"blocks.1.hook_resid_post", {len, d}},
      {"ln_final.hook_normalized", {len, d}},
      {"logits", {len, c.vocab_size}},
  };
  for (const auto& [name, shape] : expected) EXPECT_EQ(rec.shapes.at(name), shape) << name;
}

TEST(Hooks, HiddenStatesAreTheResidualHooks) {
  const model::Model& m = Fixture("small");
  const model::ModelConfig& c = m.config();
  HookSet hooks;
  Recorder rec;
  for (const std::string& n : model::AllHookNames(c)) rec.Register(hooks, n);
  const model::ForwardOutput out = RunOne(m, RandomIds(6, c.vocab_size, 4), &hooks, true);
  const model::ForwardOutput plain = RunOne(m, RandomIds(6, c.vocab_size, 4), nullptr, true);
  EXPECT_TRUE(testing::BytesEqual(out.logits, plain.logits));
  EXPECT_TRUE(testing::BytesEqual(rec.Of("blocks.0.hook_resid_pre"), plain.hidden_states[0]));
  for (int64_t l = 0; l + 1 < c.n_layer; ++l)
    EXPECT_TRUE(testing::BytesEqual(rec.Of("blocks." + std::to_string(l) + ".hook_resid_post"),
                                    plain.hidden_states[l + 1]))
        << l;
  EXPECT_TRUE(
      testing::BytesEqual(rec.Of("ln_final.hook_normalized"), plain.hidden_states[c.n_layer]));
  EXPECT_TRUE(testing::BytesEqual(rec.Of("logits"), plain.logits));
}

// Each hook against a straightforward re-computation from the hooks before it.
TEST(Hooks, EachPointIsTheEquationOfSpecSection2) {
  const model::Model& m = Fixture("small");
  const model::ModelConfig& c = m.config();
  const model::TalkieWeights& w = m.weights();
  HookSet hooks;
  Recorder rec;
  for (const std::string& n : model::AllHookNames(c)) rec.Register(hooks, n);
  const int64_t len = 7, d = c.n_embd;
  RunOne(m, RandomIds(len, c.vocab_size, 5), &hooks);
  auto at = [&](int64_t l, const std::string& p) {
    return rec.Of("blocks." + std::to_string(l) + "." + p);
  };
  std::vector<float> e(static_cast<size_t>(len * d));
  ops::RmsNormRows(rec.Of("hook_embed").data(), len, d, e.data());
  EXPECT_TRUE(testing::BytesEqual(at(0, "hook_resid_pre"), e));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const model::BlockWeights& b = w.blocks[l];
    std::vector<float> y(e.size());
    ops::RmsNormRows(at(l, "hook_resid_pre").data(), len, d, y.data());
    EXPECT_TRUE(testing::BytesEqual(at(l, "ln1.hook_normalized"), y)) << l;
    // hook_z . W_o, times attn_gain, is hook_attn_out.
    ops::MatMul(at(l, "attn.hook_z").data(), len, b.attn_resid, y.data());
    for (float& v : y) v *= b.attn_gain;
    EXPECT_TRUE(testing::BytesEqual(at(l, "hook_attn_out"), y)) << l;
    std::vector<float> mid = at(l, "hook_resid_pre");
    for (size_t i = 0; i < mid.size(); ++i) mid[i] += at(l, "hook_attn_out")[i];
    EXPECT_TRUE(testing::BytesEqual(at(l, "hook_resid_mid"), mid)) << l;
    ops::RmsNormRows(mid.data(), len, d, y.data());
    EXPECT_TRUE(testing::BytesEqual(at(l, "ln2.hook_normalized"), y)) << l;
    // mlp.hook_post . W_down, times mlp_gain, is hook_mlp_out.
    ops::MatMul(at(l, "mlp.hook_post").data(), len, b.mlp_resid, y.data());
    for (float& v : y) v *= b.mlp_gain;
    EXPECT_TRUE(testing::BytesEqual(at(l, "hook_mlp_out"), y)) << l;
    std::vector<float> post = mid;
    for (size_t i = 0; i < post.size(); ++i) post[i] += y[i];
    for (size_t i = 0; i < post.size(); ++i) post[i] += b.embed_skip * e[i];
    EXPECT_TRUE(testing::BytesEqual(at(l, "hook_resid_post"), post)) << l;
    // The pattern: causal rows of softmax weights; z = pattern . v.
    const std::vector<float>& pattern = at(l, "attn.hook_pattern");
    const std::vector<float>& v = at(l, "attn.hook_v");
    const std::vector<float>& z = at(l, "attn.hook_z");
    for (int64_t h = 0; h < c.n_head; ++h)
      for (int64_t t = 0; t < len; ++t) {
        double sum = 0;
        for (int64_t j = 0; j < len; ++j) {
          const float p = pattern[(h * len + t) * len + j];
          if (j > t) {
            EXPECT_EQ(p, 0.0f);
          }
          sum += p;
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
        for (int64_t k = 0; k < c.head_dim; ++k) {
          double expect = 0;
          for (int64_t j = 0; j <= t; ++j)
            expect += pattern[(h * len + t) * len + j] * v[(j * c.n_head + h) * c.head_dim + k];
          EXPECT_NEAR(z[(t * c.n_head + h) * c.head_dim + k], expect, 1e-4);
        }
      }
    // q is rms-normed per head, then scaled by head_gain; k is rms-normed.
    const std::vector<float>& q = at(l, "attn.hook_q");
    const std::vector<float>& k = at(l, "attn.hook_k");
    for (int64_t h = 0; h < c.n_head; ++h) {
      double qq = 0, kk = 0;
      for (int64_t i = 0; i < c.head_dim; ++i) {
        qq += q[h * c.head_dim + i] * q[h * c.head_dim + i];
        kk += k[h * c.head_dim + i] * k[h * c.head_dim + i];
      }
      EXPECT_NEAR(std::sqrt(kk / c.head_dim), 1.0, 1e-3);
      EXPECT_NEAR(std::sqrt(qq / c.head_dim), std::fabs(b.head_gain[h]), 1e-3);
    }
  }
  std::vector<float> final_norm(e.size());
  ops::RmsNormRows(at(c.n_layer - 1, "hook_resid_post").data(), len, d, final_norm.data());
  EXPECT_TRUE(testing::BytesEqual(rec.Of("ln_final.hook_normalized"), final_norm));
}

class HookInvarianceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HookInvarianceTest, AnIdentityPatchAtEveryPointChangesNoBit) {
  const model::Model& m = Fixture(GetParam());
  const HookSet identity = IdentityPatchEverywhere();
  const auto ids = RandomIds(13, m.config().vocab_size, 11);
  const auto plain = model::RunPrompts(m, {ids}, EverythingHooked());
  ExpectIdentical(plain[0], model::RunPrompts(m, {ids}, EverythingHooked(0, &identity))[0],
                  "patched");
}

TEST_P(HookInvarianceTest, CacheChunkingPaddingBatchAndThreadsHoldWithHooks) {
  const model::Model& m = Fixture(GetParam());
  const int64_t vocab = m.config().vocab_size;
  const HookSet identity = IdentityPatchEverywhere();
  const std::vector<std::vector<int32_t>> prompts = {RandomIds(9, vocab, 1),
                                                     RandomIds(3, vocab, 2)};
  std::vector<model::SequenceOutputs> alone;
  for (const auto& p : prompts) alone.push_back(model::RunPrompts(m, {p}, EverythingHooked())[0]);
  for (int threads : {1, 2}) {
    ops::ScopedNumThreads scoped(threads);
    for (int64_t chunk : {0, 1, 4}) {
      const auto batched = model::RunPrompts(m, prompts, EverythingHooked(chunk, &identity));
      for (size_t b = 0; b < prompts.size(); ++b)
        ExpectIdentical(alone[b], batched[b],
                        "row " + std::to_string(b) + " chunk " + std::to_string(chunk) +
                            " threads " + std::to_string(threads));
    }
  }
}

// What a hook sees of a sequence does not depend on what runs beside it:
// alone, in a ragged step with another sequence, fed in chunks.
TEST_P(HookInvarianceTest, RaggedStepsShowEachSequenceWhatItShowsAlone) {
  const model::Model& m = Fixture(GetParam());
  const model::ModelConfig& c = m.config();
  const auto a = RandomIds(8, c.vocab_size, 21), b = RandomIds(5, c.vocab_size, 22);
  const std::string name = "blocks." + std::to_string(c.n_layer - 1) + ".hook_resid_mid";
  HookSet alone_hooks;
  Recorder alone;
  alone.Register(alone_hooks, name);
  RunOne(m, a, &alone_hooks);

  HookSet hooks;
  Recorder rec;
  rec.Register(hooks, name);
  model::KvCache ca(c, 1), cb(c, 1);
  // Step 1: a's first 3 tokens (hooked) with all of b (no hooks); step 2: the rest of a.
  const std::vector<int32_t> a1(a.begin(), a.begin() + 3), a2(a.begin() + 3, a.end());
  const auto b_alone = model::ForwardRagged(m, {{&cb, b, model::LogitsFor::kAll}});
  model::KvCache cb2(c, 1);
  const auto step1 = model::ForwardRagged(
      m, {{&cb2, b, model::LogitsFor::kAll}, {&ca, a1, model::LogitsFor::kNone, &hooks}});
  EXPECT_TRUE(testing::BytesEqual(step1[0], b_alone[0])) << "the unhooked neighbour changed";
  // Sequence index 1 in step 1; in step 2 it is alone at index 0.
  const auto step2 = model::ForwardRagged(m, {{&ca, a2, model::LogitsFor::kNone, &hooks}});
  std::vector<float> joined = rec.Of(name, 1);
  const auto& rest = rec.Of(name, 0);
  joined.insert(joined.end(), rest.begin(), rest.end());
  EXPECT_TRUE(testing::BytesEqual(joined, alone.Of(name)));
}

INSTANTIATE_TEST_SUITE_P(FixtureModels, HookInvarianceTest,
                         ::testing::Values("tiny", "small", "wide-head", "small@fast"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-' || ch == '@') ch = '_';
                           return n;
                         });

TEST(HookPatching, PatchingTheResidualStreamChangesWhatFollowsOnlyAtThosePositions) {
  const model::Model& m = Fixture("small");
  const model::ModelConfig& c = m.config();
  const auto ids = RandomIds(6, c.vocab_size, 31);
  const model::ForwardOutput plain = RunOne(m, ids, nullptr);
  // Zero block 0's output at the last position only.
  HookSet hooks;
  hooks.Add("blocks.0.hook_resid_post", [&](const HookCall& call) {
    for (size_t r = 0; r < call.slots.size(); ++r)
      if (call.slots[r] == 5)
        std::fill_n(call.data + r * static_cast<size_t>(c.n_embd), c.n_embd, 0.0f);
  });
  const model::ForwardOutput patched = RunOne(m, ids, &hooks);
  const size_t row = static_cast<size_t>(c.vocab_size);
  // Causality: earlier positions are untouched, the patched one changes.
  EXPECT_TRUE(
      std::equal(plain.logits.begin(), plain.logits.begin() + 5 * row, patched.logits.begin()));
  EXPECT_FALSE(std::equal(plain.logits.begin() + 5 * row, plain.logits.end(),
                          patched.logits.begin() + 5 * row));
}

TEST(HookPatching, APatchedPatternIsWhatTheValuesAreWeightedBy) {
  const model::Model& m = Fixture("small");
  const model::ModelConfig& c = m.config();
  const auto ids = RandomIds(5, c.vocab_size, 41);
  // Every query of block 0 attends to the first token only: z = v_0.
  HookSet hooks;
  Recorder rec;
  hooks.Add("blocks.0.attn.hook_pattern", [](const HookCall& call) {
    const int64_t kv = call.shape[2];
    for (int64_t r = 0; r < call.shape[0] * call.shape[1]; ++r)
      for (int64_t j = 0; j < kv; ++j) call.data[r * kv + j] = j == 0 ? 1.0f : 0.0f;
  });
  rec.Register(hooks, "blocks.0.attn.hook_z");
  rec.Register(hooks, "blocks.0.attn.hook_v");
  const model::ForwardOutput patched = RunOne(m, ids, &hooks);
  const auto& z = rec.Of("blocks.0.attn.hook_z");
  const auto& v = rec.Of("blocks.0.attn.hook_v");
  for (int64_t t = 0; t < 5; ++t)
    for (int64_t i = 0; i < c.n_embd; ++i) EXPECT_EQ(z[t * c.n_embd + i], v[i]) << t << " " << i;
  EXPECT_FALSE(testing::BytesEqual(patched.logits, RunOne(m, ids, nullptr).logits));
}

TEST(HookPatching, PatchingKeysChangesWhatLaterStepsReadFromTheCache) {
  const model::Model& m = Fixture("small");
  const model::ModelConfig& c = m.config();
  const auto ids = RandomIds(4, c.vocab_size, 51);
  HookSet scale_k;
  scale_k.Add("blocks.0.attn.hook_k", [](const HookCall& call) {
    for (size_t i = 0; i < Elements(call); ++i) call.data[i] *= -1.0f;
  });
  // Prefill with the patch, decode one token without: the decode step reads
  // the patched keys, so its logits differ from an unpatched run's.
  auto run = [&](const HookSet* prefill_hooks) {
    model::KvCache cache(c, 1);
    model::ForwardRagged(m, {{&cache, ids, model::LogitsFor::kNone, prefill_hooks}});
    return model::ForwardRagged(m, {{&cache, {7}, model::LogitsFor::kLast}})[0];
  };
  EXPECT_FALSE(testing::BytesEqual(run(&scale_k), run(nullptr)));
}

}  // namespace
}  // namespace talkie
