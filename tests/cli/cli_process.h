// A `talkie` process the test talks to while it runs: stdin is a pipe the
// test writes to; stdout and stderr are collected separately. Every wait is
// bounded; a process still running at destruction is killed.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

namespace talkie::testing {

class TalkieProcess {
 public:
  explicit TalkieProcess(const std::vector<std::string>& args) {
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err)) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0), dup2(out[1], 1), dup2(err[1], 2);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
      std::vector<char*> argv{const_cast<char*>(TALKIE_CLI_PATH)};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(TALKIE_CLI_PATH, argv.data());
      _exit(127);
    }
    close(in[0]), close(out[1]), close(err[1]);
    stdin_ = in[1], stdout_ = out[0], stderr_ = err[0];
    signal(SIGPIPE, SIG_IGN);  // a dead child must fail the test, not kill it
  }
  ~TalkieProcess() {
    CloseStdin();
    if (pid_ > 0 && exit_code_ == kRunning) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) close(stdout_);
    if (stderr_ >= 0) close(stderr_);
  }

  bool Write(const std::string& text) {
    return stdin_ >= 0 && write(stdin_, text.data(), text.size()) == ssize_t(text.size());
  }
  void CloseStdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }

  // Reads until stderr holds `count` occurrences of `marker`; false on
  // timeout or end of output.
  bool WaitForStderr(const std::string& marker, int count, double timeout_s) {
    const auto deadline = Deadline(timeout_s);
    while (Count(err_, marker) < count)
      if (!Pump(deadline)) return false;
    return true;
  }

  // Reads until stderr matches `pattern` (the first match's groups in
  // `*match`); false on timeout or end of output.
  bool WaitForStderrMatch(const std::regex& pattern, std::smatch* match, double timeout_s) {
    const auto deadline = Deadline(timeout_s);
    while (!std::regex_search(err_, *match, pattern))
      if (!Pump(deadline)) return false;
    return true;
  }

  void Signal(int sig) {
    if (pid_ > 0 && exit_code_ == kRunning) kill(pid_, sig);
  }

  // Reads everything until the process exits; its exit code (-1: killed by
  // a signal or timed out).
  int Wait(double timeout_s) {
    const auto deadline = Deadline(timeout_s);
    while (Pump(deadline)) {
    }
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return exit_code_;
      }
      usleep(10000);
    }
    return -1;
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  static constexpr int kRunning = -2;
  using Clock = std::chrono::steady_clock;
  static Clock::time_point Deadline(double s) {
    return Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
  }
  static int Count(const std::string& text, const std::string& marker) {
    int n = 0;
    for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1))
      ++n;
    return n;
  }
  // One poll of both pipes; false when both are closed or time is up.
  bool Pump(Clock::time_point deadline) {
    if (stdout_ < 0 && stderr_ < 0) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(left)) <= 0) return false;
    int* fd[2] = {&stdout_, &stderr_};
    std::string* sink[2] = {&out_, &err_};
    for (int i = 0; i < 2; ++i) {
      if (*fd[i] < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[4096];
      const ssize_t n = read(*fd[i], buffer, sizeof buffer);
      if (n > 0) {
        sink[i]->append(buffer, static_cast<size_t>(n));
      } else {
        close(*fd[i]);
        *fd[i] = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1, stderr_ = -1;
  int exit_code_ = kRunning;
  std::string out_, err_;
};

}  // namespace talkie::testing
