// `talkie quantize --out FILE.gguf` (#15): writes a GGUF file with the
// model's tokenizer that talkie loads back as the same model, and refuses
// what would destroy data or cannot be done, before writing anything.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "cli_util.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;
using testing::kBundled;
using testing::ReadFileBytes;
using testing::RunTalkie;

TEST(QuantizeGgufCliTest, WritesAFileThatGeneratesTheSameText) {
  const std::string out = ::testing::TempDir() + "talkie_cli_bundled_q8.gguf";
  fs::remove(out);
  const auto q = RunTalkie("quantize --type q8 --out " + out);
  ASSERT_EQ(q.exit_code, 0) << q.output;
  EXPECT_NE(q.output.find("with its tokenizer"), std::string::npos) << q.output;
  const std::string dir = ::testing::TempDir() + "talkie_cli_bundled_q8_dir";
  fs::remove_all(dir);
  ASSERT_EQ(RunTalkie("quantize --type q8 --out " + dir).exit_code, 0);
  // Same q8 values, and the tokenizer travels in the file.
  const auto a = RunTalkie("generate -m " + out + " -t 0 -n 12 -q \"In the beginning\"");
  const auto b = RunTalkie("generate -m " + dir + " -t 0 -n 12 -q \"In the beginning\"");
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_EQ(a.output, b.output);
}

TEST(QuantizeGgufCliTest, InfoSaysTheFileCarriesTalkiesChatTemplate) {
  const std::string out = ::testing::TempDir() + "talkie_cli_bundled_q8_tpl.gguf";
  fs::remove(out);
  ASSERT_EQ(RunTalkie("quantize --type q8 --out " + out).exit_code, 0);
  const auto info = RunTalkie("info -m " + out);
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("chat template:      Talkie's IT template"), std::string::npos)
      << info.output;
  // A GGUF file without a tokenizer says so.
  const auto bare =
      RunTalkie("info -m " + std::string(TALKIE_TEST_DATA_DIR) + "/gguf/tiny-q8_0.gguf");
  ASSERT_EQ(bare.exit_code, 0) << bare.output;
  EXPECT_NE(bare.output.find("chat template:      no tokenizer"), std::string::npos) << bare.output;
}

TEST(QuantizeGgufCliTest, RefusesOverwritesAndBadRequestsBeforeWriting) {
  const std::string out = ::testing::TempDir() + "talkie_cli_existing.gguf";
  { std::ofstream(out) << "keep me"; }
  const auto exists = RunTalkie("quantize --type bf16 --out " + out);
  EXPECT_EQ(exists.exit_code, 1) << exists.output;
  EXPECT_EQ(ReadFileBytes(out), "keep me");
  EXPECT_EQ(RunTalkie("quantize --type bf16 --force --out " + out).exit_code, 0);
  EXPECT_NE(ReadFileBytes(out), "keep me");
  // Its own input, even with --force.
  const auto self = RunTalkie("quantize -m " + out + " --type q8 --force --out " + out);
  EXPECT_EQ(self.exit_code, 1) << self.output;
  const auto type = RunTalkie("quantize --type q5 --out " + out + ".new.gguf");
  EXPECT_EQ(type.exit_code, 1);
  EXPECT_NE(type.output.find("q5"), std::string::npos) << type.output;
  const auto eval =
      RunTalkie("quantize --type q8 --eval-file README.md --out " + out + ".new.gguf");
  EXPECT_EQ(eval.exit_code, 1) << eval.output;
  EXPECT_FALSE(fs::exists(out + ".new.gguf"));
}

}  // namespace
}  // namespace talkie
