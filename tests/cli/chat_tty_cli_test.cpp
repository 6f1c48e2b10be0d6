// `talkie chat` on a terminal (a pseudo-terminal here): lines are edited
// (arrow keys move the cursor, up recalls history) instead of sending escape
// bytes to the model, and Ctrl-C drops the line being typed.
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "cli_util.h"

namespace talkie {
namespace {

// `talkie chat` with its stdin / stdout / stderr on one pseudo-terminal.
class PtyChat {
 public:
  explicit PtyChat(const std::vector<std::string>& args) {
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> argv{const_cast<char*>(TALKIE_CLI_PATH)};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      setenv("TERM", "xterm", 1);
      execv(TALKIE_CLI_PATH, argv.data());
      _exit(127);
    }
  }
  ~PtyChat() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  void Type(const std::string& keys) {
    ASSERT_EQ(write(fd_, keys.data(), keys.size()), ssize_t(keys.size()));
  }
  // Reads until the output holds `count` occurrences of `text` (bounded).
  bool WaitFor(const std::string& text, int count, double timeout_s = 60) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (Count(text) < count) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return false;
      pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      char buffer[4096];
      const ssize_t n = read(fd_, buffer, sizeof buffer);
      if (n <= 0) return false;
      for (ssize_t i = 0; i < n; ++i)
        if (buffer[i] != '\r') out_ += buffer[i];
    }
    return true;
  }
  int Wait(double timeout_s = 30) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      WaitFor("\x01never", 1, 0.05);  // drain output
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
    }
    return -1;
  }
  const std::string& out() const { return out_; }

 private:
  int Count(const std::string& text) const {
    int n = 0;
    for (size_t at = out_.find(text); at != std::string::npos; at = out_.find(text, at + 1)) ++n;
    return n;
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false;
  std::string out_;
};

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

  PtyChat chat({"chat", "-t", "0", "-n", "6", "-q"});
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
