// What the README promises of every command: --model and --threads
// everywhere, --policy where the model runs; tokenize uses the model's
// tokenizer by default; generate reads stdin; --stop takes one value; chat
// behaves as a filter when its input is not a terminal.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace talkie {
namespace {

using testing::JsonLine;
using testing::RunTalkie;

TEST(CommandsCliTest, EveryCommandTakesModelAndThreadsAndModelRunnersTakePolicy) {
  for (const std::string cmd : {"info", "forward", "tokenize", "detokenize", "generate", "chat",
                                "perplexity", "bench", "quantize", "compare", "serve"}) {
    const auto help = RunTalkie(cmd + " --help");
    ASSERT_EQ(help.exit_code, 0) << cmd;
    EXPECT_NE(help.output.find("--model"), std::string::npos) << cmd << "\n" << help.output;
    EXPECT_NE(help.output.find("--threads"), std::string::npos) << cmd << "\n" << help.output;
    const bool runs_model = cmd != "info" && cmd != "tokenize" && cmd != "detokenize";
    if (runs_model) {
      EXPECT_NE(help.output.find("--policy"), std::string::npos) << cmd << "\n" << help.output;
    }
  }
  const auto f = RunTalkie("forward --ids 1,2,3 --policy fast --threads 1 --out " +
                           ::testing::TempDir() + "talkie_commands_fast.safetensors");
  EXPECT_EQ(f.exit_code, 0) << f.output;
  EXPECT_EQ(RunTalkie("info --threads 1").exit_code, 0);
}

TEST(CommandsCliTest, TokenizeDefaultsToTheModelsTokenizer) {
  const std::string model = TALKIE_DEFAULT_MODEL_DIR;
  const auto given = RunTalkie("tokenize --tokenizer " + model + " --text 'In the beginning'");
  ASSERT_EQ(given.exit_code, 0) << given.output;
  EXPECT_EQ(RunTalkie("tokenize --text 'In the beginning'").output, given.output);
  EXPECT_EQ(RunTalkie("tokenize -m " + model + " --text 'In the beginning'").output, given.output);
  std::string ids;
  for (const auto& id : nlohmann::json::parse(given.output))
    ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int>());
  const auto back = RunTalkie("detokenize --ids " + ids);
  EXPECT_EQ(back.output, "In the beginning") << back.output;
}

TEST(CommandsCliTest, GenerateReadsThePromptFromStdin) {
  const std::string opts = " -n 4 -t 0 --json --quiet";
  const auto arg = JsonLine(RunTalkie("generate 'In the beginning'" + opts).output);
  ASSERT_FALSE(arg.empty());
  const auto dash = JsonLine(RunTalkie("generate -" + opts, "In the beginning\n").output);
  const auto piped = JsonLine(RunTalkie("generate" + opts, "In the beginning").output);
  EXPECT_EQ(dash["ids"], arg["ids"]);
  EXPECT_EQ(dash["prompt_tokens"], arg["prompt_tokens"]);
  EXPECT_EQ(piped["ids"], arg["ids"]);
}

TEST(CommandsCliTest, StopTakesOneValuePerFlag) {
  const auto r = RunTalkie("generate --stop zzzz --stop qqqq 'In the beginning' -n 3 -t 0 -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("In the beginning", 0), 0u) << r.output;
}

TEST(CommandsCliTest, PipedChatPrintsNoPromptsAndAnswersHelpAndReset) {
  const auto r = RunTalkie("chat -t 0 -n 4 -q", "What is wisdom?\n/help\n/reset\n");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("> "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/reset clears"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[conversation cleared]"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace talkie
