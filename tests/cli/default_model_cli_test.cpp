// The main job on the bundled default model: `talkie generate` / `chat` /
// `perplexity` with no --model, deterministic under a seed, stopping at the
// IT end marker.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace talkie {
namespace {

using testing::JsonLine;
using testing::RunTalkie;

TEST(DefaultModelCliTest, GenerateWithoutModelUsesTheBundledModelDeterministically) {
  const std::string cmd = "generate 'And it came to pass' -n 24 --seed 7 --json --quiet";
  const auto a = RunTalkie(cmd);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  const auto b = RunTalkie(cmd + " --threads 1");
  const nlohmann::json ja = JsonLine(a.output), jb = JsonLine(b.output);
  EXPECT_EQ(ja["ids"], jb["ids"]);
  EXPECT_EQ(ja["text"], jb["text"]);
  EXPECT_FALSE(ja["ids"].empty());
  EXPECT_EQ(ja["prompt_tokens"], 5) << ja.dump();
}

TEST(DefaultModelCliTest, ChatAnswersInTheItTemplateAndStops) {
  const auto r =
      RunTalkie("chat -n 60 --seed 3 -t 0 --quiet", "What is the meaning of the word wisdom?\n");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("<|"), std::string::npos) << r.output;  // no marker leaks
  EXPECT_GT(r.output.size(), 10u) << r.output;
}

TEST(DefaultModelCliTest, GreedyChatReplyEndsAtTheEndMarker) {
  const auto r = RunTalkie(
      "generate --allow-special '<|user|>What is the meaning of the word "
      "house?<|end|><|assistant|>' "
      "-t 0 -n 200 --json --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = JsonLine(r.output);
  EXPECT_EQ(j["finish_reason"], "stop_token") << j.dump();
  EXPECT_FALSE(j["text"].get<std::string>().empty());
}

// The fast policy on the bundled model: same greedy text is not promised,
// but generation runs, and `compare` reports it close to the exact policy.
TEST(DefaultModelCliTest, FastPolicyGeneratesAndComparesCloseToExact) {
  const auto g =
      RunTalkie("generate 'And it came to pass' -n 16 -t 0 --policy fast --json --quiet");
  ASSERT_EQ(g.exit_code, 0) << g.output;
  EXPECT_EQ(JsonLine(g.output)["ids"].size(), 16u) << g.output;
  const auto c = RunTalkie("compare --policy fast -f " + std::string(TALKIE_TEST_DATA_DIR) +
                           "/tiny1930/heldout.txt");
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const size_t at = c.output.find("mean KL ");
  ASSERT_NE(at, std::string::npos) << c.output;
  EXPECT_LT(std::stod(c.output.substr(at + 8)), 1e-3) << c.output;
  const auto bad = RunTalkie("generate hi --policy quick");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("--policy must be 'exact' or 'fast', got 'quick'"), std::string::npos)
      << bad.output;
}

TEST(DefaultModelCliTest, PerplexityOfHeldOutText) {
  const auto r = RunTalkie("perplexity --file " + std::string(TALKIE_TEST_DATA_DIR) +
                           "/tiny1930/heldout.txt --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = JsonLine(r.output);
  // The trainer (tools/train) measured 27.67 on this file in 2048-token windows.
  EXPECT_NEAR(j["perplexity"].get<double>(), 27.67, 0.01) << j.dump();
  EXPECT_GT(j["tokens"].get<int64_t>(), 1000);
  const auto bad = RunTalkie("perplexity --file /no/such/file.txt");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("/no/such/file.txt"), std::string::npos);
}

}  // namespace
}  // namespace talkie
