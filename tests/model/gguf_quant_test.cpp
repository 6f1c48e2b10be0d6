// GGUF files quantized by llama.cpp's own llama-quantize to the block types
// talkie.cpp computes on in place (Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K,
// Q6_K, and the Q4_K_M / Q5_K_M mixes), from the `small` fixture model
// (tests/data/gguf/quant/, tools/gguf/make_quant_fixtures.sh). Oracles none
// of us wrote: gguf-py's numpy dequantizers, llama.cpp's logits on the same
// files, and the reference implementation's logits of the original model.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "fixtures.h"
#include "io/gguf.h"
#include "logit_drift.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/prompt_runner.h"
#include "model_helpers.h"
#include "ops/ggml_blocks.h"
#include "ops/matmul.h"
#include "ops/parallel.h"

namespace talkie {
namespace {

std::string QuantDir() { return testing::DataDir() + "/gguf/quant"; }
std::string QuantFile(const std::string& type) { return QuantDir() + "/small-" + type + ".gguf"; }

const char* const kFileTypes[] = {"q4_1", "q5_0", "q5_1",   "iq4_nl", "q4_k",
                                  "q5_k", "q6_k", "q4_k_m", "q5_k_m"};

TEST(GgufQuantTest, WideningMatchesGgufPysDequantizationBitForBit) {
  const io::GgufFile g = io::LoadGguf(QuantDir() + "/ggml-blocks.gguf");
  for (ops::WeightType type : ops::kGgmlBlockTypes) {
    const std::string name = ops::GgmlBlock(type).name;
    const io::GgufTensor* blocks = g.FindTensor(name + ".blocks");
    const io::GgufTensor* values = g.FindTensor(name + ".values");
    ASSERT_TRUE(blocks != nullptr && values != nullptr) << name;
    ASSERT_EQ(std::string(blocks->type->name), name);
    const int64_t rows = blocks->dims[1], cols = blocks->dims[0];
    ASSERT_EQ(values->NumElements(), rows * cols);
    const ops::WeightMatrix w{type, blocks->data, rows, cols};
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      ops::WeightRowToFloat(w, r, row.data());
      EXPECT_EQ(std::memcmp(row.data(), values->data + r * cols * 4, cols * 4), 0)
          << name << " row " << r;
    }
    // The SIMD kernel's own dequantization, read out exactly by multiplying
    // with the identity (1 * w + zeros; only a -0 weight reads as +0).
    std::vector<float> identity(static_cast<size_t>(cols * cols), 0.0f);
    for (int64_t t = 0; t < cols; ++t) identity[t * cols + t] = 1.0f;
    std::vector<float> y(static_cast<size_t>(cols * rows));
    ops::MatMul(identity.data(), cols, w, y.data());
    std::vector<float> expected(static_cast<size_t>(rows * cols));
    std::memcpy(expected.data(), values->data, expected.size() * 4);
    for (int64_t t = 0; t < cols; ++t)
      for (int64_t r = 0; r < rows; ++r)
        ASSERT_EQ(y[t * rows + r], expected[r * cols + t]) << name << " row " << r << " col " << t;
  }
}

TEST(GgufQuantTest, LogitsAgreeWithLlamaCppOnTheSameFiles) {
  // llama.cpp quantizes the activations to 8 bits for its K-quant and legacy
  // dot products (and keeps f32 RoPE tables); talkie keeps float32
  // activations. Measured: mean KL 1.2e-4 .. 1.9e-4, max |dlogit| 0.069 ..
  // 0.104, top-1 >= 16 / 17 (docs/io.md); the bounds leave about 2x.
  // The fast policy (8-bit activations too, per group of 32, for Q4_K /
  // Q5_0 / Q6_K and Q8_0) stays as close in KL and |dlogit|, but its argmax
  // is not stable on near-ties: the exact float kernels differ in the last
  // bit between SIMD targets, an int8 activation code then moves by one, and
  // on 17 positions one flip more is top-1 15 / 17 (TALKIE_SIMD=scalar).
  // Measured flips are all where llama.cpp's top two are within 0.045, so
  // every position of both policies must pick a token that llama.cpp scores
  // within 0.1 of its best, and the exact policy keeps top-1 >= 0.9.
  for (const char* type : kFileTypes) {
    const io::TensorStore llama =
        io::LoadSafetensors(QuantDir() + "/small-" + type + ".llama-logits.safetensors");
    const std::vector<int32_t> ids = testing::IdsOf(*llama.Find("input_ids"));
    const auto m = model::Model::Load(QuantFile(type));
    for (ops::Precision p : {ops::Precision::kExact, ops::Precision::kFast}) {
      m->SetPrecision(p);
      const model::ForwardOutput out = model::ForwardSequence(*m, ids);
      const testing::Drift d = testing::CompareLogits(
          out.logits, testing::FloatsOf(*llama.Find("logits")), m->config().vocab_size);
      const char* policy = p == ops::Precision::kFast ? "fast" : "exact";
      std::printf(
          "[%s %s vs llama.cpp: mean KL %.3g, max |dlogit| %.4g, top-1 %.3f, max regret %.3g]\n",
          type, policy, d.mean_kl, d.max_abs, d.top1, d.max_regret);
      EXPECT_LT(d.mean_kl, 4e-4) << type << " " << policy;
      EXPECT_LT(d.max_abs, 0.2f) << type << " " << policy;
      EXPECT_LT(d.max_regret, 0.1f) << type << " " << policy;
      if (p == ops::Precision::kExact) {
        EXPECT_GE(d.top1, 0.9) << type << " " << policy;
      }
    }
  }
}

TEST(GgufQuantTest, LogitsStayWithinTheirQuantizationErrorOfTheReference) {
  const io::TensorStore expected =
      io::LoadSafetensors(testing::ModelFixtureDir() + "/expected/small/len77.safetensors");
  const std::vector<int32_t> ids = testing::IdsOf(*expected.Find("input_ids"));
  const std::vector<float> ref = testing::FloatsOf(*expected.Find("logits"));
  // Bounds per type, about 1.5x the measured mean KL (docs/io.md). The small
  // random model's flat distributions make 4-bit weights move many argmaxes.
  const std::pair<const char*, double> bounds[] = {
      {"q4_1", 0.05},  {"q5_0", 0.015}, {"q5_1", 0.015},  {"iq4_nl", 0.05}, {"q4_k", 0.05},
      {"q5_k", 0.015}, {"q6_k", 0.004}, {"q4_k_m", 0.04}, {"q5_k_m", 0.012}};
  for (const auto& [type, max_kl] : bounds) {
    const auto m = model::Model::Load(QuantFile(type));
    for (ops::Precision p : {ops::Precision::kExact, ops::Precision::kFast}) {
      m->SetPrecision(p);
      const model::ForwardOutput out = model::ForwardSequence(*m, ids);
      const testing::Drift d = testing::CompareLogits(out.logits, ref, m->config().vocab_size);
      const char* policy = p == ops::Precision::kFast ? "fast" : "exact";
      std::printf("[%s %s vs reference: mean KL %.3g, max |dlogit| %.4g, top-1 %.3f]\n", type,
                  policy, d.mean_kl, d.max_abs, d.top1);
      EXPECT_LT(d.mean_kl, max_kl) << type << " " << policy;
      EXPECT_GT(d.top1, 0.6) << type << " " << policy;
    }
  }
}

TEST(GgufQuantTest, EveryFileKeepsTheBitwiseContract) {
  for (const char* type : kFileTypes) {
    auto m = model::Model::Load(QuantFile(type));
    // Block types run the exact kernel under both policies.
    for (ops::Precision p : {ops::Precision::kExact, ops::Precision::kFast}) {
      m->SetPrecision(p);
      const std::vector<int32_t> ids = {5, 77, 310, 42, 9, 600, 18, 3};
      const model::ForwardOutput whole = model::ForwardSequence(*m, ids);
      testing::ExpectCachedDecodeEqualsWhole(*m, ids, whole, type);
      // A left-padded batch fed in chunks of 3, and one thread.
      model::PromptRunOptions chunked;
      chunked.chunk = 3;
      chunked.pad_id = 7;
      const auto batch = model::RunPrompts(*m, {ids, {11, 12, 13}}, chunked);
      EXPECT_TRUE(testing::BytesEqual(batch[0].logits, whole.logits)) << type << " batch";
      ops::SetNumThreads(1);
      const model::ForwardOutput one_thread = model::ForwardSequence(*m, ids);
      ops::SetNumThreads(0);
      EXPECT_TRUE(testing::BytesEqual(one_thread.logits, whole.logits)) << type << " threads";
    }
  }
}

TEST(GgufQuantTest, InfoNamesTheFilesTensorTypes) {
  const auto m = model::Model::Load(QuantFile("q4_k_m"));
  const model::LoadInfo& info = m->info();
  EXPECT_EQ(info.quantization, "Q4_K (GGUF)");
  // ffn_down's 640-wide rows are not a multiple of 256: llama.cpp's fallbacks.
  for (const char* t : {"Q4_K x", "Q6_K x", "Q5_0 x", "F32 x"})
    EXPECT_NE(info.gguf_types.find(t), std::string::npos) << info.gguf_types;
  // In place: the matrix is the file's blocks, nothing widened or copied.
  const ops::WeightMatrix& gate = m->weights().blocks[0].mlp_gate;
  EXPECT_EQ(gate.type, ops::WeightType::kQ4_K);
  const io::GgufFile g = io::LoadGguf(QuantFile("q4_k_m"));
  EXPECT_EQ(ops::WeightBytes(gate),
            static_cast<int64_t>(g.FindTensor("blk.0.ffn_gate.weight")->nbytes));
  EXPECT_EQ(m->weights().blocks[0].attn_query.negated_rows != nullptr, true);
}

// A copy of a fixture file, changed by `edit`.
std::string EditedCopy(const std::string& type, const std::string& name,
                       void (*edit)(std::string& bytes)) {
  std::ifstream in(QuantFile(type), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  edit(bytes);
  const std::string path = ::testing::TempDir() + "/" + name + ".gguf";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

::testing::AssertionResult FailsNaming(const std::string& path, const std::string& what) {
  try {
    model::Model::Load(path);
  } catch (const Error& e) {
    if (std::string(e.what()).find(what) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "error does not name " << what << ": " << e.what();
  }
  return ::testing::AssertionFailure() << path << " loaded";
}

TEST(GgufQuantTest, MalformedBlocksAreNamedErrors) {
  // Truncated data: a tensor's blocks run past the end of the file.
  EXPECT_TRUE(
      FailsNaming(EditedCopy("q4_k", "truncated", [](std::string& b) { b.resize(b.size() - 100); }),
                  "runs past the end of the file"));
  // A type talkie does not compute on (Q2_K): named with the tensor.
  EXPECT_TRUE(FailsNaming(EditedCopy("q4_k", "q2_k",
                                     [](std::string& b) {
                                       // blk.0.ffn_gate.weight: name, n_dims, 2 dims, type.
                                       const std::string name = "blk.0.ffn_gate.weight";
                                       const size_t at = b.find(name) + name.size() + 4 + 16;
                                       const uint32_t q2_k = 10;
                                       std::memcpy(&b[at], &q2_k, 4);
                                     }),
                          "blk.0.ffn_gate.weight' is Q2_K"));
}

}  // namespace
}  // namespace talkie
