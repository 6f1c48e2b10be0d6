// The public hook API (talkie/hooks.h) as a library user sees it: capture by
// name, patching from a HookFunction, steering vectors and directional
// ablation, in Forward and Generate, and its errors.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "talkie/talkie.h"

namespace talkie {
namespace {

const Model& Small() {
  static const Model m = Model::Load(std::string(TALKIE_TEST_DATA_DIR) + "/model/models/small");
  return m;
}

ForwardRequest OneSequence(std::vector<int32_t> ids) {
  ForwardRequest r;
  const auto n = static_cast<int64_t>(ids.size());
  r.input_ids = Tensor<int32_t>({1, n}, std::move(ids));
  return r;
}

bool SameBytes(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(HooksApi, CaptureReturnsBatchShapedTensorsWithoutChangingTheLogits) {
  const Model& m = Small();
  const ModelConfig& c = m.config();
  ForwardRequest req;
  req.input_ids = Tensor<int32_t>({2, 3}, {5, 6, 7, 1, 2, 3});
  req.output_hidden_states = true;
  const ForwardResult plain = m.Forward(req);
  req.capture = {"blocks.*.hook_resid_post", "blocks.0.attn.hook_pattern", "blocks.1.attn.hook_q",
                 "logits"};
  const ForwardResult out = m.Forward(req);
  EXPECT_TRUE(SameBytes(out.logits, plain.logits));
  EXPECT_EQ(out.captured.size(), static_cast<size_t>(c.n_layer) + 3);
  const Tensor<float>& post0 = out.captured.at("blocks.0.hook_resid_post");
  EXPECT_EQ(post0.shape(), (std::vector<int64_t>{2, 3, c.n_embd}));
  EXPECT_TRUE(SameBytes(post0, plain.hidden_states[1]));
  EXPECT_EQ(out.captured.at("blocks.0.attn.hook_pattern").shape(),
            (std::vector<int64_t>{2, c.n_head, 3, 3}));
  EXPECT_EQ(out.captured.at("blocks.1.attn.hook_q").shape(),
            (std::vector<int64_t>{2, 3, c.n_head, c.head_dim}));
  EXPECT_TRUE(SameBytes(out.captured.at("logits"), plain.logits));
}

TEST(HooksApi, AVectorAddedAtBlockNIsExactlyThereAndNowhereBefore) {
  const Model& m = Small();
  const ModelConfig& c = m.config();
  std::vector<float> v(static_cast<size_t>(c.n_embd));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
  ForwardRequest req = OneSequence({9, 8, 7, 6});
  req.capture = {"blocks.*.hook_resid_post"};
  const ForwardResult plain = m.Forward(req);
  Hooks hooks;
  hooks.AddVector("blocks.1.hook_resid_post", v, 2.0f);
  req.hooks = &hooks;
  const ForwardResult steered = m.Forward(req);
  EXPECT_TRUE(SameBytes(steered.captured.at("blocks.0.hook_resid_post"),
                        plain.captured.at("blocks.0.hook_resid_post")));
  const Tensor<float>& a = plain.captured.at("blocks.1.hook_resid_post");
  const Tensor<float>& b = steered.captured.at("blocks.1.hook_resid_post");
  for (size_t i = 0; i < a.size(); ++i) {
    const float expect = a.data()[i] + 2.0f * v[i % v.size()];
    ASSERT_EQ(std::memcmp(&b.data()[i], &expect, sizeof(float)), 0) << i;
  }
  EXPECT_FALSE(SameBytes(steered.logits, plain.logits));
}

TEST(HooksApi, ProjectOutLeavesNoComponentAlongTheDirection) {
  const Model& m = Small();
  const ModelConfig& c = m.config();
  std::vector<float> d(static_cast<size_t>(c.n_embd), 0.0f);
  d[3] = 3.0f;
  d[5] = -4.0f;  // unit vector (0.6, -0.8) on two coordinates
  Hooks hooks;
  hooks.ProjectOut("blocks.0.hook_resid_mid", d);
  ForwardRequest req = OneSequence({4, 4, 2});
  req.hooks = &hooks;
  req.capture = {"blocks.0.hook_resid_mid"};
  const ForwardResult result = m.Forward(req);
  const Tensor<float>& x = result.captured.at("blocks.0.hook_resid_mid");
  for (int64_t t = 0; t < 3; ++t) {
    const float* row = x.data() + t * c.n_embd;
    EXPECT_NEAR(0.6 * row[3] - 0.8 * row[5], 0.0, 1e-5) << t;
  }
}

TEST(HooksApi, AHookFunctionPatchesAndSeesWhichSequenceAndSlots) {
  const Model& m = Small();
  std::vector<int64_t> seen_sequences, seen_slots;
  Hooks hooks;
  hooks.Add("blocks.0.hook_attn_out", [&](const HookEvent& e) {
    seen_sequences.push_back(e.sequence);
    seen_slots.assign(e.slots.begin(), e.slots.end());
    EXPECT_EQ(e.name, "blocks.0.hook_attn_out");
    EXPECT_EQ(e.layer, 0);
    for (size_t i = 0; i < e.size(); ++i) e.data[i] = 0.0f;  // ablate the attention branch
  });
  ForwardRequest req;
  req.input_ids = Tensor<int32_t>({2, 2}, {1, 2, 3, 4});
  req.hooks = &hooks;
  req.capture = {"blocks.0.hook_resid_mid", "blocks.0.hook_resid_pre"};
  const ForwardResult out = m.Forward(req);
  EXPECT_EQ(seen_sequences, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(seen_slots, (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(SameBytes(out.captured.at("blocks.0.hook_resid_mid"),
                        out.captured.at("blocks.0.hook_resid_pre")));
}

TEST(HooksApi, GenerationWithASteeringVectorIsDeterministicAndDiffers) {
  const Model& m = Small();
  GenerateOptions o;
  o.max_new_tokens = 6;
  o.sampling.temperature = 0;
  o.stop_token_ids = std::vector<int32_t>{};
  const auto plain = Generate(m, {{1, 2, 3}}, {o});
  std::vector<float> v(static_cast<size_t>(m.config().n_embd), 40.0f);
  Hooks hooks;
  hooks.AddVector("blocks.*.hook_resid_post", v);
  o.hooks = &hooks;
  const auto a = Generate(m, {{1, 2, 3}}, {o});
  const auto b = Generate(m, {{1, 2, 3}}, {o});
  EXPECT_EQ(a[0].tokens, b[0].tokens);
  EXPECT_NE(a[0].tokens, plain[0].tokens);
}

TEST(HooksApi, BadNamesWidthsAndBlocksAreClearErrors) {
  const Model& m = Small();
  Hooks hooks;
  EXPECT_THROW(hooks.Add("blocks.0.hook_nothing", [](const HookEvent&) {}), Error);
  EXPECT_THROW(hooks.AddVector("blocks.0.hook_resid_post", {}), Error);
  EXPECT_THROW(hooks.ProjectOut("blocks.0.hook_resid_post", {0.0f, 0.0f}), Error);
  EXPECT_THROW(hooks.AddVector("blocks.0.hook_resid_post", {NAN}), Error);
  ForwardRequest req = OneSequence({1, 2});
  Hooks wrong_width;
  wrong_width.AddVector("blocks.0.hook_resid_post", {1.0f, 2.0f});
  req.hooks = &wrong_width;
  try {
    m.Forward(req);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("width 2"), std::string::npos) << e.what();
  }
  req.hooks = nullptr;
  req.capture = {"blocks.99.hook_resid_post"};
  EXPECT_THROW(m.Forward(req), Error);
  req.capture = {"nonsense"};
  EXPECT_THROW(m.Forward(req), Error);
  EXPECT_EQ(Hooks::Names(m.config()).size(), 3u + 14u * static_cast<size_t>(m.config().n_layer));
}

TEST(HooksApi, AControlVectorFileAddsDirectionNAtBlockNAndAblationRemovesADirection) {
  const Model tiny = Model::Load(std::string(TALKIE_TEST_DATA_DIR) + "/model/models/tiny");
  const std::string cvec = std::string(TALKIE_TEST_DATA_DIR) + "/control_vectors/";
  ForwardRequest req = OneSequence({5, 17, 300, 42});
  req.capture = {"blocks.*.hook_resid_post"};
  const ForwardResult plain = tiny.Forward(req);
  Hooks hooks;
  hooks.AddControlVector(cvec + "tiny-cvec.gguf", 2.0f, 0, 1);  // direction.2 is out of range
  req.hooks = &hooks;
  const ForwardResult steered = tiny.Forward(req);
  EXPECT_TRUE(SameBytes(steered.captured.at("blocks.0.hook_resid_post"),
                        plain.captured.at("blocks.0.hook_resid_post")));
  // The safetensors twin holds the same direction.1: the same bits.
  Hooks once;
  once.AddControlVector(cvec + "tiny-cvec.safetensors", 2.0f, 1, 1);
  req.hooks = &once;
  EXPECT_TRUE(SameBytes(tiny.Forward(req).captured.at("blocks.1.hook_resid_post"),
                        steered.captured.at("blocks.1.hook_resid_post")));
  EXPECT_FALSE(SameBytes(steered.captured.at("blocks.1.hook_resid_post"),
                         plain.captured.at("blocks.1.hook_resid_post")));

  std::vector<float> d(96, 0.0f);
  d[7] = 1.0f;
  Hooks ablate;
  ablate.AblateDirection(d);
  req.hooks = &ablate;
  const ForwardResult ablated = tiny.Forward(req);
  for (int64_t l = 0; l < 3; ++l) {
    const Tensor<float>& x =
        ablated.captured.at("blocks." + std::to_string(l) + ".hook_resid_post");
    for (int64_t t = 0; t < 4; ++t) EXPECT_EQ(x.data()[t * 96 + 7], 0.0f) << l << " " << t;
  }
  EXPECT_THROW(Hooks().AddControlVector(cvec + "missing.gguf"), Error);
  EXPECT_THROW(Hooks().AddControlVector(std::string(TALKIE_TEST_DATA_DIR) + "/gguf/tiny-bf16.gguf"),
               Error);
}

}  // namespace
}  // namespace talkie
