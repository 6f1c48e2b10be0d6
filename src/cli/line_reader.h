// Reads `talkie chat` input lines. On a terminal (and when built with
// libedit, Debian's BSD-licensed editline) lines get editing and history,
// so arrow keys move the cursor instead of reaching the model as escape
// bytes, and Ctrl-C drops the line being typed and starts a fresh one. When
// stdin is not a terminal, lines are read plainly and no prompt is printed.
#pragma once

#include <csignal>
#include <memory>
#include <optional>
#include <string>

namespace talkie::cli {

class LineReader {
 public:
  // `interrupted` is set by the program's SIGINT handler; the reader clears
  // it when it used the interrupt to cancel the line being typed.
  explicit LineReader(volatile std::sig_atomic_t* interrupted);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  bool interactive() const { return interactive_; }
  // The next line (no line end); nullopt at end of input.
  std::optional<std::string> Read(const std::string& prompt);

 private:
  struct Editor;
  bool interactive_ = false;
  std::unique_ptr<Editor> editor_;  // null: plain reading
};

}  // namespace talkie::cli
