// Arguments are checked before any work or output: each bad argument gives a
// one-line error naming it, with nothing printed or written first.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;
using testing::RunTalkie;

std::string TempFile(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "talkie_validation_" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

void ExpectOneLineError(const std::string& args, const std::string& message,
                        const std::string& stdin_text = "") {
  const auto r = RunTalkie(args, stdin_text);
  EXPECT_EQ(r.exit_code, 1) << args.substr(0, 200) << "\n" << r.output;
  EXPECT_EQ(r.output.find("talkie: error: "), 0u) << args.substr(0, 200) << "\n"
                                                  << r.output.substr(0, 500);
  EXPECT_NE(r.output.find(message), std::string::npos) << args.substr(0, 200) << "\n" << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output.substr(0, 500);
}

TEST(ValidationCliTest, PromptsFileProblemsNameTheFileAndLine) {
  const std::string blank = TempFile("blank.txt", "In the beginning\n\nAnd it came\n");
  ExpectOneLineError("generate --prompts-file " + blank, blank + ":2: blank line");
  const std::string bad = TempFile("bad_utf8.txt", "In the beginning\nAnd \xff it came\n");
  ExpectOneLineError("generate --prompts-file " + bad, bad + ":2: invalid UTF-8 at byte 5");
  ExpectOneLineError("generate --prompts-file " + ::testing::TempDir(), "is a directory");
  ExpectOneLineError("generate --prompts-file " + TempFile("empty.txt", ""), "no prompts");
}

TEST(ValidationCliTest, CrlfPromptsFileGivesTheSameTokensAsLf) {
  const std::string common = "generate -n 3 -t 0 --json --quiet --prompts-file ";
  const auto lf = RunTalkie(common + TempFile("lf.txt", "In the beginning\nAnd it came\n"));
  const auto crlf = RunTalkie(common + TempFile("crlf.txt", "In the beginning\r\nAnd it came\r\n"));
  ASSERT_EQ(lf.exit_code, 0) << lf.output;
  ASSERT_EQ(crlf.exit_code, 0) << crlf.output;
  // Same tokens, row by row: no prompt kept a '\r'.
  std::istringstream a(lf.output), b(crlf.output);
  std::string la, lb;
  int rows = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    const auto ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
    EXPECT_EQ(ja["prompt_tokens"], jb["prompt_tokens"]) << la << "\n" << lb;
    EXPECT_EQ(ja["ids"], jb["ids"]) << la << "\n" << lb;
    EXPECT_EQ(jb["index"], rows++);
  }
  EXPECT_EQ(rows, 2) << lf.output;
}

TEST(ValidationCliTest, ALongPromptIsNotEchoedBeforeTheTooLongError) {
  std::string prompt;
  while (prompt.size() < 11000) prompt += "the house ";
  ExpectOneLineError("generate '" + prompt + "' -n 4", "context limit");
}

TEST(ValidationCliTest, ModelPathProblemsSaySo) {
  ExpectOneLineError("info -m " + std::string(TALKIE_DEFAULT_MODEL_DIR) + "/README.md",
                     "not a model checkpoint");
  ExpectOneLineError("generate hi -m " + std::string(TALKIE_DEFAULT_MODEL_DIR) + "/README.md",
                     "not a model checkpoint");
  setenv("TALKIE_MODEL", "/no/such/model/dir", 1);
  const auto r = RunTalkie("info");
  unsetenv("TALKIE_MODEL");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("$TALKIE_MODEL"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/no/such/model/dir"), std::string::npos) << r.output;
}

TEST(ValidationCliTest, NumbersAreNeverClampedAndZeroIsNotTheDefault) {
  ExpectOneLineError("generate hi --seed 99999999999999999999", "--seed: must be an integer in");
  ExpectOneLineError("generate hi --seed -1", "--seed");
  ExpectOneLineError("generate hi -n 99999999999999999999", "--max-new-tokens");
  ExpectOneLineError("synth --out /tmp/x --seed 99999999999999999999", "--seed");
  const std::string text = std::string(TALKIE_TEST_DATA_DIR) + "/tiny1930/heldout.txt";
  ExpectOneLineError("perplexity -f " + text + " --window 0", "--window: must be an integer >= 1");
  ExpectOneLineError("serve --ctx 0", "--ctx: must be an integer >= 1");
  ExpectOneLineError("perplexity -f " + text + " --stride 0", "--stride: must be an integer >= 1");
  ExpectOneLineError("forward --ids 1,2 --out /tmp/x.safetensors --chunk 0",
                     "--chunk: must be an integer >= 1");
  ExpectOneLineError("perplexity -f " + ::testing::TempDir(), "is a directory");
}

TEST(ValidationCliTest, QuantizeChecksTheEvalFileBeforeWriting) {
  const std::string out = ::testing::TempDir() + "talkie_validation_quantized";
  fs::remove_all(out);
  ExpectOneLineError("quantize --type q8 --out " + out + " --eval-file /nonexistent/eval.txt",
                     "--eval-file /nonexistent/eval.txt: no such file");
  EXPECT_FALSE(fs::exists(out));
}

TEST(ValidationCliTest, BenchChecksTheContextBeforeMeasuring) {
  const auto start = std::chrono::steady_clock::now();
  ExpectOneLineError("bench --prompt 5000", "exceeds the model's context of 2048");
  ExpectOneLineError("bench --prompt 0", "--prompt: must be an integer >= 1");
  // Measuring the memory bandwidth alone takes seconds; the error comes first.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

}  // namespace
}  // namespace talkie
