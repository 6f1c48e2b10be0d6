// Talkie GGUF files written the way llama.cpp's converter writes them
// (tools/gguf/make_fixtures.py, with llama.cpp's gguf-py): the BF16 file gives
// the safetensors model's logits (the converter's q/k flip undone exactly),
// and the Q8_0 / Q4_0 files stay within their quantization error of the
// reference outputs and run the whole contract (cache, batch, policies).
#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "fixtures.h"
#include "logit_drift.h"
#include "model/forward.h"
#include "model_helpers.h"

namespace talkie {
namespace {

std::string GgufFixture(const std::string& type) {
  return testing::DataDir() + "/gguf/tiny-" + type + ".gguf";
}

TEST(GgufModelTest, Bf16FileGivesTheSafetensorsModelsLogits) {
  const auto gguf = model::Model::Load(GgufFixture("bf16"));
  const auto st = model::Model::Load(testing::ModelFixtureDir() + "/models/tiny");
  EXPECT_EQ(gguf->info().checkpoint_format, "gguf");
  EXPECT_NE(gguf->info().name_layout.find("upstream"), std::string::npos);
  EXPECT_EQ(gguf->config().n_layer, st->config().n_layer);
  EXPECT_EQ(gguf->config().head_dim, st->config().head_dim);
  for (const char* c : {"len5", "len77"}) {
    const io::TensorStore expected = io::LoadSafetensors(
        testing::ModelFixtureDir() + "/expected/tiny/" + std::string(c) + ".safetensors");
    const std::vector<int32_t> ids = testing::IdsOf(*expected.Find("input_ids"));
    const model::ForwardOutput a = model::ForwardSequence(*gguf, ids);
    const model::ForwardOutput b = model::ForwardSequence(*st, ids);
    float max_abs = 0;
    for (size_t i = 0; i < a.logits.size(); ++i)
      max_abs = std::max(max_abs, std::fabs(a.logits[i] - b.logits[i]));
    EXPECT_LE(max_abs, 1e-5f) << c;
    EXPECT_TRUE(testing::CloseToReference(a.logits, testing::FloatsOf(*expected.Find("logits")),
                                          std::string(c) + " logits"));
  }
}

TEST(GgufModelTest, QuantizedFilesStayWithinTheirErrorOfTheReference) {
  const io::TensorStore expected =
      io::LoadSafetensors(testing::ModelFixtureDir() + "/expected/tiny/len77.safetensors");
  const std::vector<int32_t> ids = testing::IdsOf(*expected.Find("input_ids"));
  const std::vector<float> ref = testing::FloatsOf(*expected.Find("logits"));
  // Bounds from talkie's own q8 / q4 of the same model, measured on this
  // case: KL 1.1e-4 / 2.5e-2, top-1 0.987 / 0.727 (the tiny random model has
  // flat distributions, so 4-bit weights move many argmaxes).
  for (auto [type, max_kl, min_top1] :
       {std::tuple{"q8_0", 1e-3, 0.95}, std::tuple{"q4_0", 5e-2, 0.7}}) {
    const auto m = model::Model::Load(GgufFixture(type));
    const model::ForwardOutput out = model::ForwardSequence(*m, ids);
    const testing::Drift d = testing::CompareLogits(out.logits, ref, m->config().vocab_size);
    std::printf("[gguf %s vs reference: max |dlogit| %.4g, mean KL %.3g, top-1 %.3f]\n", type,
                d.max_abs, d.mean_kl, d.top1);
    EXPECT_LT(d.mean_kl, max_kl) << type;
    EXPECT_GT(d.top1, min_top1) << type;
  }
}

TEST(GgufModelTest, QuantizedFileKeepsTheBitwiseContract) {
  for (const char* type : {"q8_0", "q4_0"}) {
    auto m = model::Model::Load(GgufFixture(type));
    for (ops::Precision p : {ops::Precision::kExact, ops::Precision::kFast}) {
      m->SetPrecision(p);
      const std::vector<int32_t> ids = {5, 77, 310, 42, 9, 600, 18, 3};
      const model::ForwardOutput whole = model::ForwardSequence(*m, ids);
      testing::ExpectCachedDecodeEqualsWhole(*m, ids, whole, type);
    }
  }
}

TEST(GgufModelTest, UnsupportedFilesAreNamedErrors) {
  // A GGUF of another architecture, and a directory holding one GGUF.
  EXPECT_THROW(model::Model::Load(testing::DataDir() + "/gguf"), Error);  // three files: ambiguous
  const std::string dir = ::testing::TempDir() + "/gguf-one";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(GgufFixture("q4_0"), dir + "/m.gguf",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(model::Model::Load(dir)->info().checkpoint_format, "gguf");
}

}  // namespace
}  // namespace talkie
