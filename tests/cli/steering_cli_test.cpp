// The steering flags end to end: `talkie forward --control-vector` changes
// block N's output by exactly the vector, the layer range and ablation flags
// take effect, perplexity and generate accept them, and bad files are one
// clear error with a non-zero exit.
#include <cstring>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../model/fixtures.h"
#include "cli_util.h"
#include "io/gguf.h"
#include "model/steering.h"

namespace talkie {
namespace {

using testing::JsonLine;
using testing::RunTalkie;

std::string Tiny() { return testing::ModelFixtureDir() + "/models/tiny"; }
std::string Cvec(const std::string& name) {
  return testing::DataDir() + "/control_vectors/" + name;
}
std::string Out(const std::string& name) {
  return ::testing::TempDir() + "talkie_steer_cli_" + name + ".safetensors";
}

std::vector<float> Tensor(const std::string& file, const std::string& name) {
  const io::TensorStore s = io::LoadSafetensors(file);
  EXPECT_NE(s.Find(name), nullptr) << name;
  return s.Find(name) ? testing::FloatsOf(*s.Find(name)) : std::vector<float>{};
}

const std::string kForward = "forward --ids 5,17,300,42,9 --hidden-states --model ";

TEST(SteeringCliTest, ForwardControlVectorAddsDirectionNToBlockNOutputExactly) {
  ASSERT_EQ(RunTalkie(kForward + Tiny() + " --out " + Out("plain")).exit_code, 0);
  const auto r = RunTalkie(kForward + Tiny() + " --control-vector " + Cvec("tiny-cvec.gguf") +
                           " --out " + Out("steered"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // hidden_states.{l+1} is block l's output: block 0 has no direction.
  EXPECT_TRUE(testing::BytesEqual(Tensor(Out("plain"), "hidden_states.1"),
                                  Tensor(Out("steered"), "hidden_states.1")));
  const std::vector<float> a = Tensor(Out("plain"), "hidden_states.2");
  const std::vector<float> b = Tensor(Out("steered"), "hidden_states.2");
  const std::vector<float> v = model::LoadControlVector(Cvec("tiny-cvec.gguf")).directions.at(1);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const float expect = a[i] + v[i % v.size()];
    ASSERT_EQ(std::memcmp(&b[i], &expect, 4), 0) << i;
  }
}

TEST(SteeringCliTest, CaptureRecordsTheSteeredActivationsAndTheManifestSaysSo) {
  const std::string cv = " --control-vector " + Cvec("tiny-cvec.gguf");
  ASSERT_EQ(RunTalkie(kForward + Tiny() + cv + " --out " + Out("steered_fwd")).exit_code, 0);
  const std::string dir = ::testing::TempDir() + "talkie_steer_cli_capture";
  const auto r =
      RunTalkie("capture --model " + Tiny() +
                " --ids 5,17,300,42,9 --hooks blocks.1.hook_resid_post" + cv + " --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(
      testing::BytesEqual(Tensor(dir + "/shard-00000.safetensors", "blocks.1.hook_resid_post"),
                          Tensor(Out("steered_fwd"), "hidden_states.2")));
  const nlohmann::json manifest =
      nlohmann::json::parse(testing::ReadFileBytes(dir + "/manifest.json"));
  ASSERT_TRUE(manifest.contains("steering")) << manifest.dump();
  EXPECT_EQ(manifest["steering"]["control_vectors"][0]["scale"], 1.0);
}

TEST(SteeringCliTest, LayerRangeScaleAndAblationFlagsTakeEffect) {
  ASSERT_EQ(RunTalkie(kForward + Tiny() + " --out " + Out("plain2")).exit_code, 0);
  const auto ranged =
      RunTalkie(kForward + Tiny() + " --control-vector-scaled " + Cvec("tiny-cvec.safetensors") +
                " 2.5 --control-vector-layer-range 2 2 --out " + Out("ranged"));
  ASSERT_EQ(ranged.exit_code, 0) << ranged.output;
  EXPECT_TRUE(testing::BytesEqual(Tensor(Out("plain2"), "hidden_states.2"),
                                  Tensor(Out("ranged"), "hidden_states.2")));
  EXPECT_FALSE(
      testing::BytesEqual(Tensor(Out("plain2"), "logits"), Tensor(Out("ranged"), "logits")));
  const auto ablated = RunTalkie(kForward + Tiny() + " --ablate-direction " +
                                 Cvec("tiny-direction.safetensors") + " --out " + Out("ablated"));
  ASSERT_EQ(ablated.exit_code, 0) << ablated.output;
  EXPECT_FALSE(
      testing::BytesEqual(Tensor(Out("plain2"), "logits"), Tensor(Out("ablated"), "logits")));
}

// A control vector for the bundled model (n_embd 256): direction.2 = 3.0.
std::string DefaultModelVector() {
  const std::string path = ::testing::TempDir() + "talkie_steer_cli_default.gguf";
  io::GgufTensorToWrite t{"direction.2", {256}, 0, std::vector<std::byte>(256 * 4)};
  const float value = 3.0f;
  for (size_t i = 0; i < 256; ++i) std::memcpy(&t.bytes[i * 4], &value, 4);
  io::WriteGguf(path, {io::GgufString("general.architecture", "controlvector")}, {t});
  return path;
}

TEST(SteeringCliTest, PerplexityGenerateAndChatAreSteered) {
  const std::string cv = " --control-vector-scaled " + DefaultModelVector() + " 4";
  const std::string ppl =
      "perplexity --json --window 256 --file " + testing::DataDir() + "/tiny1930/heldout.txt";
  const auto plain = RunTalkie(ppl);
  const auto steered = RunTalkie(ppl + cv);
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  ASSERT_EQ(steered.exit_code, 0) << steered.output;
  EXPECT_NE(JsonLine(plain.output)["perplexity"], JsonLine(steered.output)["perplexity"]);

  const std::string gen = "generate 'And it came to pass' -n 16 -t 0 --json --quiet";
  const auto g0 = RunTalkie(gen);
  const auto g1 = RunTalkie(gen + cv);
  ASSERT_EQ(g1.exit_code, 0) << g1.output;
  EXPECT_NE(JsonLine(g0.output)["ids"], JsonLine(g1.output)["ids"]);

  const auto chat = RunTalkie("chat -n 8 -t 0 --quiet" + cv, "What is wisdom?\n");
  EXPECT_EQ(chat.exit_code, 0) << chat.output;
}

TEST(SteeringCliTest, BadSteeringFilesAreOneLineErrors) {
  struct Case {
    std::string flags, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"--control-vector /nonexistent/cv.gguf", "no such file"},
           {"--control-vector " + testing::DataDir() + "/gguf/tiny-bf16.gguf",
            "not 'controlvector'"},
           {"--control-vector-scaled " + Cvec("tiny-cvec.gguf") + " lots", "finite number"},
           {"--control-vector " + Cvec("tiny-cvec.gguf") + " --control-vector-layer-range 2 1",
            "0 <= A <= B"},
           {"--control-vector " + Cvec("tiny-cvec.gguf") + " --control-vector-layer-range 0 9",
            "the model has blocks 0..2"},
           {"--ablate-direction " + Cvec("tiny-cvec.gguf"), "exactly one tensor"},
       }) {
    const auto r = RunTalkie(kForward + Tiny() + " " + c.flags + " --out " + Out("bad"));
    EXPECT_NE(r.exit_code, 0) << c.flags;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.flags << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace talkie
