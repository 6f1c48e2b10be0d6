// Loading: layout detection for every published form, config inference, and
// bad checkpoints / configs rejected with an error naming the file and field.
#include <filesystem>

#include "common/error.h"
#include "fixtures.h"
#include "model/model.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;

std::string Models() { return testing::ModelFixtureDir() + "/models"; }

// A fresh temporary directory per test.
class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("talkie_loader_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  // Copies tiny's tensors into dir_/model.safetensors, editing them on the way.
  template <typename Edit>
  void WriteTinyWith(Edit edit) {
    const io::TensorStore store = io::LoadSafetensors(Models() + "/tiny/model.safetensors");
    std::vector<io::OwnedTensor> tensors;
    for (const io::TensorView& t : store.tensors()) {
      io::OwnedTensor o{t.name, t.dtype, t.shape,
                        std::vector<std::byte>(t.data, t.data + t.nbytes)};
      if (edit(o)) tensors.push_back(std::move(o));
    }
    io::WriteSafetensors((dir_ / "model.safetensors").string(), tensors);
  }
  std::string LoadError() {
    try {
      model::Model::Load(dir_.string());
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(LoaderTest, DetectsEveryPublishedLayout) {
  struct Expect {
    const char* dir;
    const char* format;
    const char* layout;
    bool gain;
    const char* family;
  };
  for (const Expect& e :
       {Expect{"tiny", "safetensors", "hf-port", true, "transformers"},
        Expect{"tiny-folded", "safetensors", "hf-port", false, "transformers"},
        Expect{"tiny-raw", "pytorch-zip", "original", true, "inferred"},
        Expect{"small", "safetensors-sharded", "hf-port", true, "transformers"},
        Expect{"small-native", "safetensors-sharded", "hf-port", true, "talkie-native"},
        Expect{"wide-head", "safetensors", "hf-port", true, "transformers"}}) {
    const auto m = model::Model::Load(Models() + "/" + e.dir);
    EXPECT_EQ(m->info().checkpoint_format, e.format) << e.dir;
    EXPECT_EQ(m->info().name_layout, e.layout) << e.dir;
    EXPECT_EQ(m->info().lm_head_gain_present, e.gain) << e.dir;
    EXPECT_EQ(m->config().key_family, e.family) << e.dir;
    EXPECT_TRUE(m->info().unknown_tensors.empty()) << e.dir;
  }
  // The raw checkpoint's inferred config equals tiny's config.json.
  const auto raw = model::Model::Load(Models() + "/tiny-raw/rl-refined.pt");
  const auto hf = model::Model::Load(Models() + "/tiny/model.safetensors");
  EXPECT_TRUE(raw->info().orig_mod_prefix);
  EXPECT_EQ(raw->config().n_embd, hf->config().n_embd);
  EXPECT_EQ(raw->config().n_head, hf->config().n_head);
  EXPECT_EQ(raw->config().head_dim, hf->config().head_dim);
  EXPECT_EQ(raw->config().n_layer, hf->config().n_layer);
  EXPECT_EQ(raw->config().vocab_size, hf->config().vocab_size);
  EXPECT_EQ(raw->config().intermediate_size, hf->config().intermediate_size);
  EXPECT_EQ(raw->info().n_parameters, hf->info().n_parameters);
  // small-native derives the MLP width from the formula.
  EXPECT_EQ(model::Model::Load(Models() + "/small-native")->config().intermediate_size, 640);
  EXPECT_EQ(model::TalkieMlpWidth(5120), 13696);
}

TEST_F(LoaderTest, MissingTensorIsNamed) {
  fs::copy(Models() + "/tiny/config.json", dir_ / "config.json");
  WriteTinyWith([](io::OwnedTensor& t) { return t.name != "model.blocks.1.mlp_gain.a_g"; });
  EXPECT_NE(LoadError().find("missing tensor 'blocks.1.mlp_gain.a_g'"), std::string::npos)
      << LoadError();
}

TEST_F(LoaderTest, ShapeMismatchAgainstConfigIsNamed) {
  std::ifstream in(Models() + "/tiny/config.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.find("\"intermediate_size\": 256"), 24, "\"intermediate_size\": 320");
  WriteFile("config.json", text);
  fs::copy(Models() + "/tiny/model.safetensors", dir_ / "model.safetensors");
  const std::string error = LoadError();
  EXPECT_NE(
      error.find(
          "tensor 'model.blocks.0.mlp.mlp_gate.weight' has shape [256, 96], expected [320, 96]"),
      std::string::npos)
      << error;
}

TEST_F(LoaderTest, UnknownExtraTensorsAreReportedByName) {
  fs::copy(Models() + "/tiny/config.json", dir_ / "config.json");
  WriteTinyWith([](io::OwnedTensor& t) { return true; });
  {
    const io::TensorStore store = io::LoadSafetensors((dir_ / "model.safetensors").string());
    std::vector<io::OwnedTensor> tensors;
    for (const io::TensorView& t : store.tensors())
      tensors.push_back(
          {t.name, t.dtype, t.shape, std::vector<std::byte>(t.data, t.data + t.nbytes)});
    const float extra[2] = {1, 2};
    tensors.push_back(io::MakeF32Tensor("rope.cos_cached", {2}, extra));
    io::WriteSafetensors((dir_ / "model2.safetensors").string(), tensors);
  }
  fs::remove(dir_ / "model.safetensors");
  fs::rename(dir_ / "model2.safetensors", dir_ / "model.safetensors");
  const auto m = model::Model::Load(dir_.string());
  EXPECT_EQ(m->info().unknown_tensors, std::vector<std::string>{"rope.cos_cached"});
}

TEST_F(LoaderTest, NonFloatWeightIsRejected) {
  fs::copy(Models() + "/tiny/config.json", dir_ / "config.json");
  WriteTinyWith([](io::OwnedTensor& t) {
    if (t.name == "lm_head") t.dtype = io::DType::kI16;
    return true;
  });
  EXPECT_NE(LoadError().find("tensor 'lm_head' has dtype I16"), std::string::npos) << LoadError();
}

TEST_F(LoaderTest, MalformedConfigJsonIsNamed) {
  WriteFile("config.json", "{\"vocab_size\": 1000, \"hidden_size\": 96,");
  fs::copy(Models() + "/tiny/model.safetensors", dir_ / "model.safetensors");
  const std::string error = LoadError();
  EXPECT_NE(error.find("config.json: malformed JSON"), std::string::npos) << error;
}

TEST_F(LoaderTest, ConfigFieldErrorsAreNamed) {
  fs::copy(Models() + "/tiny/model.safetensors", dir_ / "model.safetensors");
  WriteFile(
      "config.json",
      R"({"vocab_size": 1000, "hidden_size": "96", "num_hidden_layers": 3, "num_attention_heads": 3})");
  EXPECT_NE(LoadError().find("field 'hidden_size' must be an integer"), std::string::npos)
      << LoadError();
  WriteFile("config.json",
            R"({"hidden_size": 96, "num_hidden_layers": 3, "num_attention_heads": 3})");
  EXPECT_NE(LoadError().find("missing field 'vocab_size'"), std::string::npos) << LoadError();
  WriteFile(
      "config.json",
      R"({"vocab_size": 1000, "hidden_size": 96, "num_hidden_layers": 3, "num_attention_heads": 5, "head_dim": 32})");
  EXPECT_NE(LoadError().find("does not equal hidden_size"), std::string::npos) << LoadError();
  WriteFile(
      "config.json",
      R"({"vocab_size": 1000, "hidden_size": 96, "num_hidden_layers": 0, "num_attention_heads": 3})");
  EXPECT_NE(LoadError().find("must be positive"), std::string::npos) << LoadError();
  WriteFile("config.json", "[1, 2]");
  EXPECT_NE(LoadError().find("must be a JSON object"), std::string::npos) << LoadError();
}

TEST_F(LoaderTest, MissingPathAndEmptyDirectoryAreClear) {
  EXPECT_NE(LoadError().find("cannot tell which checkpoint to load"), std::string::npos)
      << LoadError();
  try {
    model::Model::Load((dir_ / "nope").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no such file or directory"), std::string::npos);
  }
}

TEST_F(LoaderTest, SingleFileInsideHfDirectoryUsesItsConfig) {
  const auto m = model::Model::Load(Models() + "/small/model.safetensors.index.json");
  EXPECT_EQ(m->info().checkpoint_format, "safetensors-sharded");
  EXPECT_EQ(m->config().key_family, "transformers");
}

}  // namespace
}  // namespace talkie
