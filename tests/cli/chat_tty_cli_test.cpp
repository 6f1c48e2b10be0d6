// `talkie chat` on a terminal (a pseudo-terminal here): lines are edited
// (arrow keys move the cursor, up recalls history) instead of sending escape
// bytes to the model, and Ctrl-C drops the line being typed.
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "cli_pty.h"
#include "cli_util.h"

namespace talkie {
namespace {

TEST(ChatTtyCliTest, ArrowKeysEditTheLineUpRecallsHistoryAndCtrlCDropsTheLine) {
  // The same two turns piped in: the replies the edited lines must get.
  const auto piped = testing::RunTalkie("chat -t 0 -n 6 -q", "hello\nhello\n");
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  const size_t split = piped.output.find("\n", 1);
  ASSERT_NE(split, std::string::npos) << piped.output;
  const std::string reply1 = piped.output.substr(0, split);
  const std::string reply2 = piped.output.substr(split + 1, piped.output.size() - split - 2);
  ASSERT_FALSE(reply1.empty());
  ASSERT_FALSE(reply2.empty());

  testing::PtyProcess chat({"chat", "-t", "0", "-n", "6", "-q"});
  // Keys typed only once the prompt is up and the terminal is in edit mode
  // (as a person would); before that the terminal itself echoes them.
  auto prompt = [&](int count) {
    const bool shown = chat.WaitFor("> ", count);
    usleep(200 * 1000);
    return shown;
  };
  ASSERT_TRUE(prompt(1)) << chat.out();
  chat.Type("helo\x1b[Dl\r");  // "helo", left arrow, "l": the line is "hello"
  ASSERT_TRUE(chat.WaitFor(reply1, 1)) << chat.out() << "\nwanted: " << reply1;
  ASSERT_TRUE(prompt(2)) << chat.out();
  chat.Type("garbage");
  ASSERT_TRUE(chat.WaitFor("garbage", 1)) << chat.out();
  chat.Type("\x03");  // Ctrl-C: drop the line, fresh prompt
  ASSERT_TRUE(prompt(3)) << chat.out();
  chat.Type("\x1b[A\r");  // up arrow: "hello" again
  // The second turn's reply, after the first: "garbage" never reached the model.
  ASSERT_TRUE(chat.WaitFor(reply2, reply2 == reply1 ? 2 : 1))
      << chat.out() << "\nwanted: " << reply2;
  ASSERT_TRUE(prompt(4)) << chat.out();
  chat.Type("\x04");  // Ctrl-D at an empty line quits
  EXPECT_EQ(chat.Wait(), 0) << chat.out();
}

}  // namespace
}  // namespace talkie
