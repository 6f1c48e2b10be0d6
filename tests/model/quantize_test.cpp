// Quantized checkpoints: `QuantizeModel` output loads like any checkpoint,
// stays close to the original, and keeps every bitwise invariance guarantee.
#include <filesystem>
#include <random>
#include <set>

#include "common/error.h"
#include "fixtures.h"
#include "model/evaluation.h"
#include "model/prompt_runner.h"
#include "model/quantize.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;

std::string QuantizedDir(const std::string& model, const std::string& type) {
  const std::string dir =
      (fs::temp_directory_path() / ("talkie_quant_" + model + "_" + type)).string();
  static std::set<std::string> done;
  if (done.insert(dir).second) {
    const auto m = model::Model::Load(testing::ModelFixtureDir() + "/models/" + model);
    model::QuantizeModel(*m, type == "q8" ? ops::WeightType::kQ8 : ops::WeightType::kQ4, dir);
  }
  return dir;
}

std::vector<int32_t> RandomIds(int64_t n, int64_t vocab) {
  std::mt19937 rng(5);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
  return ids;
}

TEST(QuantizeTest, QuantizedModelsLoadAndStayCloseToTheOriginal) {
  const auto original = model::Model::Load(testing::ModelFixtureDir() + "/models/wide-head");
  const auto ids = RandomIds(40, original->config().vocab_size);
  for (const char* type : {"q8", "q4"}) {
    const auto q = model::Model::Load(QuantizedDir("wide-head", type));
    EXPECT_EQ(q->info().quantization, type);
    EXPECT_TRUE(q->info().unknown_tensors.empty());
    EXPECT_EQ(q->info().n_parameters, original->info().n_parameters);
    const model::QualityReport r = model::CompareLogits(*original, *q, ids);
    EXPECT_TRUE(r.finite);
    std::printf("%s: mean KL %.6f, top-1 %.3f\n", type, r.mean_kl, r.top1_agreement);
    if (std::string(type) == "q8") {
      EXPECT_LT(r.mean_kl, 1e-3);
      EXPECT_GE(r.top1_agreement, 0.95);
    } else {
      EXPECT_LT(r.mean_kl, 0.1);
    }
  }
}

// The fast policy (int8 / bf16 activations) against the exact policy of the
// same weights. Bounds: int8 rounding of activations costs about what q8
// weights cost; bf16 activations (8 significant bits) a little less.
TEST(QuantizeTest, FastPolicyStaysCloseToExact) {
  for (const char* type : {"bf16", "q8", "q4"}) {
    const std::string dir = std::string(type) == "bf16"
                                ? testing::ModelFixtureDir() + "/models/wide-head"
                                : QuantizedDir("wide-head", type);
    const auto exact = model::Model::Load(dir);
    auto fast = model::Model::Load(dir);
    fast->SetPrecision(ops::Precision::kFast);
    const auto ids = RandomIds(100, exact->config().vocab_size);
    const model::QualityReport r = model::CompareLogits(*exact, *fast, ids);
    std::printf("%s fast vs exact: mean KL %.6f, top-1 %.3f, max |dlogit| %.4f\n", type, r.mean_kl,
                r.top1_agreement, r.max_abs_logit_diff);
    EXPECT_TRUE(r.finite) << type;
    EXPECT_LT(r.mean_kl, 1e-3) << type;
    // Random-weight q4 logits have near ties that any rounding can flip.
    EXPECT_GE(r.top1_agreement, std::string(type) == "q4" ? 0.9 : 0.95) << type;
    // Back to exact: the same bytes as a model that never left it.
    fast->SetPrecision(ops::Precision::kExact);
    const model::QualityReport back = model::CompareLogits(*exact, *fast, ids);
    EXPECT_EQ(back.max_abs_logit_diff, 0.0) << type;
  }
}

TEST(QuantizeTest, QuantizedModelsKeepBitwiseInvariance) {
  for (const char* variant : {"q8", "q4", "q8@fast", "q4@fast"}) {
    const std::string type = std::string(variant).substr(0, 2);
    const auto q = model::Model::Load(QuantizedDir("small", type));
    if (std::string(variant).find("@fast") != std::string::npos)
      q->SetPrecision(ops::Precision::kFast);
    const int64_t vocab = q->config().vocab_size;
    const std::vector<std::vector<int32_t>> prompts = {RandomIds(9, vocab), RandomIds(3, vocab)};
    model::PromptRunOptions whole, chunked;
    whole.output_hidden_states = chunked.output_hidden_states = true;
    chunked.chunk = 2;
    chunked.pad_id = 3;
    const auto a = model::RunPrompts(*q, {prompts[0]}, whole);
    const auto b = model::RunPrompts(*q, prompts, chunked);
    EXPECT_TRUE(testing::BytesEqual(a[0].logits, b[0].logits)) << variant;
    for (size_t i = 0; i < a[0].hidden_states.size(); ++i)
      EXPECT_TRUE(testing::BytesEqual(a[0].hidden_states[i], b[0].hidden_states[i]))
          << variant << " " << i;
  }
}

TEST(QuantizeTest, MalformedQuantizedTensorsAreNamed) {
  const std::string dir = QuantizedDir("tiny", "q8");
  const std::string bad = (fs::temp_directory_path() / "talkie_quant_bad").string();
  fs::remove_all(bad);
  fs::create_directories(bad);
  fs::copy(dir + "/config.json", bad + "/config.json");
  const io::TensorStore store = io::LoadSafetensors(dir + "/model.safetensors");
  std::vector<io::OwnedTensor> tensors;
  for (const io::TensorView& t : store.tensors()) {
    io::OwnedTensor o{t.name, t.dtype, t.shape, std::vector<std::byte>(t.data, t.data + t.nbytes)};
    if (o.name == "model.blocks.0.attn.attn_key.weight.q8") o.dtype = io::DType::kU8;
    tensors.push_back(std::move(o));
  }
  io::WriteSafetensors(bad + "/model.safetensors", tensors);
  try {
    model::Model::Load(bad);
    ADD_FAILURE() << "a U8 q8 payload must be rejected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "'model.blocks.0.attn.attn_key.weight.q8' is U8 [96, 96], expected I8"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace talkie
