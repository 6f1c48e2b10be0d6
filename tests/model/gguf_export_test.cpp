// GGUF output (`talkie quantize --out FILE.gguf`, model/gguf_export.h): the
// files load back here bit for bit as the model (bf16, f32) or as `talkie
// quantize`'s q8 / q4 (Q8_0 / Q4_0); their tensors are byte for byte those
// llama.cpp's own gguf-py writes for the converter's layout; and llama.cpp
// itself runs them (its logits, committed, within the quantization bounds).
#include <cstring>
#include <filesystem>

#include "fixtures.h"
#include "io/gguf.h"
#include "logit_drift.h"
#include "model/forward.h"
#include "model/gguf_export.h"
#include "model/quantize.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;
using model::GgufExportType;

std::string ExportTemp(const model::Model& m, GgufExportType type, const std::string& name) {
  const std::string path =
      (fs::temp_directory_path() / ("talkie_export_" + name + ".gguf")).string();
  model::ExportGguf(m, type, path);
  return path;
}

std::unique_ptr<model::Model> Load(const std::string& path, ops::Precision precision) {
  auto m = model::Model::Load(path);
  m->SetPrecision(precision);
  return m;
}

TEST(GgufExportTest, ExportedFilesLoadBackBitForBit) {
  const std::string dir = testing::ModelFixtureDir() + "/models/small";
  const auto source = model::Model::Load(dir);
  const std::string q8_dir = (fs::temp_directory_path() / "talkie_export_small_q8").string();
  const std::string q4_dir = (fs::temp_directory_path() / "talkie_export_small_q4").string();
  model::QuantizeModel(*source, ops::WeightType::kQ8, q8_dir);
  model::QuantizeModel(*source, ops::WeightType::kQ4, q4_dir);
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {dir, ExportTemp(*source, GgufExportType::kBF16, "small_bf16")},
      {q8_dir, ExportTemp(*source, GgufExportType::kQ8_0, "small_q8_0")},
      {q4_dir, ExportTemp(*source, GgufExportType::kQ4_0, "small_q4_0")},
      {dir, ExportTemp(*source, GgufExportType::kF32, "small_f32")}};
  const std::vector<int32_t> ids = {5, 17, 3, 99, 42, 7, 8, 64, 12, 400, 4000, 1, 4099};
  for (const ops::Precision precision : {ops::Precision::kExact, ops::Precision::kFast}) {
    for (const auto& [want_path, got_path] : pairs) {
      // f32 weights run the exact kernel under both policies; bf16 ones do not.
      if (precision == ops::Precision::kFast && got_path.find("f32") != std::string::npos) continue;
      const auto want = Load(want_path, precision), got = Load(got_path, precision);
      EXPECT_EQ(got->info().checkpoint_format, "gguf");
      const std::vector<float> a = model::ForwardSequence(*want, ids).logits;
      const std::vector<float> b = model::ForwardSequence(*got, ids).logits;
      ASSERT_EQ(a.size(), b.size());
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
          << got_path << (precision == ops::Precision::kFast ? " fast" : " exact");
    }
  }
}

// tests/data/gguf/tiny-bf16.gguf was written by llama.cpp's gguf-py with the
// transformations of its converter (tools/gguf/make_fixtures.py).
TEST(GgufExportTest, TensorsAreByteForByteThoseOfLlamaCppsConverter) {
  const auto tiny = model::Model::Load(testing::ModelFixtureDir() + "/models/tiny");
  const io::GgufFile ours = io::LoadGguf(ExportTemp(*tiny, GgufExportType::kBF16, "tiny_bf16"));
  const io::GgufFile theirs = io::LoadGguf(testing::DataDir() + "/gguf/tiny-bf16.gguf");
  EXPECT_EQ(ours.tensors().size(), theirs.tensors().size());
  for (const io::GgufTensor& t : theirs.tensors()) {
    const io::GgufTensor* o = ours.FindTensor(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    EXPECT_EQ(o->dims, t.dims) << t.name;
    EXPECT_EQ(o->type, t.type) << t.name;
    ASSERT_EQ(o->nbytes, t.nbytes) << t.name;
    EXPECT_EQ(0, std::memcmp(o->data, t.data, t.nbytes)) << t.name;
  }
  for (const char* key :
       {"general.architecture", "talkie.block_count", "talkie.context_length",
        "talkie.embedding_length", "talkie.feed_forward_length", "talkie.attention.head_count",
        "talkie.rope.freq_base", "talkie.attention.layer_norm_rms_epsilon", "talkie.logit_scale"}) {
    const io::GgufValue* a = ours.Find(key);
    const io::GgufValue* b = theirs.Find(key);
    ASSERT_NE(a, nullptr) << key;
    ASSERT_NE(b, nullptr) << key;
    EXPECT_EQ(a->type, b->type) << key;
    EXPECT_EQ(a->s, b->s) << key;
    EXPECT_EQ(a->u, b->u) << key;
    EXPECT_EQ(a->f, b->f) << key;
  }
}

// llama.cpp's logits for `small` exported here as BF16 and Q8_0, on the
// reference's 17-token case (tools/gguf/make_quant_fixtures.sh, llama.cpp of
// node-llama-cpp 3.21.1, GGML_NATIVE on an AVX-512 x86-64). llama.cpp rounds
// activations (bf16 / per-block int8) where the exact policy keeps float32,
// so the bounds are the quantization error of that rounding (measured:
// bf16 max 0.022, KL 9.8e-6, top-1 1; q8 max 0.071, KL 1.2e-4, top-1 1).
TEST(GgufExportTest, LlamaCppRunsTheExportedFiles) {
  const auto small = model::Model::Load(testing::ModelFixtureDir() + "/models/small");
  const io::TensorStore expected =
      io::LoadSafetensors(testing::ModelFixtureDir() + "/expected/small/len17.safetensors");
  const std::vector<int32_t> ids = testing::IdsOf(*expected.Find("input_ids"));
  struct Case {
    GgufExportType type;
    const char* name;
    float max_abs;
    double mean_kl, top1;
  };
  for (const Case& c : {Case{GgufExportType::kBF16, "bf16", 0.05f, 3e-5, 0.94},
                        Case{GgufExportType::kQ8_0, "q8", 0.15f, 3e-4, 0.88}}) {
    const auto m = model::Model::Load(ExportTemp(*small, c.type, std::string("llama_") + c.name));
    const std::vector<float> ours = model::ForwardSequence(*m, ids).logits;
    const io::TensorStore llama = io::LoadSafetensors(testing::DataDir() + "/gguf/export/small-" +
                                                      c.name + ".llama-logits.safetensors");
    const testing::Drift d = testing::CompareLogits(ours, testing::FloatsOf(*llama.Find("logits")),
                                                    m->config().vocab_size);
    std::printf("[exported %s vs llama.cpp: max |dlogit| %.3g, mean KL %.3g, top-1 %.3f]\n", c.name,
                d.max_abs, d.mean_kl, d.top1);
    EXPECT_LE(d.max_abs, c.max_abs) << c.name;
    EXPECT_LE(d.mean_kl, c.mean_kl) << c.name;
    EXPECT_GE(d.top1, c.top1) << c.name;
  }
}

}  // namespace
}  // namespace talkie
