// `talkie chat` keeps the conversation's KV cache from turn to turn (issue
// #17): later turns feed only their new tokens, and the replies are the
// ones a chat that re-feeds the whole conversation gives.
#include <regex>

#include <gtest/gtest.h>

#include "cli_util.h"

namespace talkie {
namespace {

using testing::RunTalkie;

constexpr const char* kTurns = "What is wisdom?\nAnd what is folly?\nSay more.\n";

TEST(ChatReuseCliTest, LaterTurnsFeedOnlyTheirNewTokensAndReplyTheSame) {
  for (const char* policy : {"exact", "fast"}) {
    const std::string args = std::string("chat -t 0 -n 6 --policy ") + policy;
    const auto reusing = RunTalkie(args + " -q", kTurns);
    const auto refeeding = RunTalkie(args + " -q --no-prompt-cache", kTurns);
    ASSERT_EQ(reusing.exit_code, 0) << reusing.output;
    ASSERT_EQ(refeeding.exit_code, 0) << refeeding.output;
    EXPECT_EQ(reusing.output, refeeding.output) << policy;

    // The speed line after each reply: "[prompt N tok (C cached), ...".
    const auto timed = RunTalkie(args, kTurns);
    ASSERT_EQ(timed.exit_code, 0) << timed.output;
    const std::regex line(R"(\[prompt (\d+) tok(?: \((\d+) cached\))?,)");
    std::vector<std::pair<int, int>> turns;  // prompt tokens, cached tokens
    for (auto it = std::sregex_iterator(timed.output.begin(), timed.output.end(), line);
         it != std::sregex_iterator(); ++it)
      turns.emplace_back(std::stoi((*it)[1]), (*it)[2].matched ? std::stoi((*it)[2]) : 0);
    ASSERT_EQ(turns.size(), 3u) << timed.output;
    EXPECT_EQ(turns[0].second, 0);
    for (size_t t = 1; t < 3; ++t) {
      EXPECT_GT(turns[t].second, turns[t - 1].first) << "turn " << t << "\n" << timed.output;
      EXPECT_LT(turns[t].second, turns[t].first) << "turn " << t;
    }
    const auto plain = RunTalkie(args + " --no-prompt-cache", kTurns);
    EXPECT_EQ(plain.output.find("cached"), std::string::npos) << plain.output;
  }
}

}  // namespace
}  // namespace talkie
