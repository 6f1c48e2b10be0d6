// LineReader (see line_reader.h).
#include "cli/line_reader.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdio>
#include <iostream>

#ifdef TALKIE_HAVE_LIBEDIT
#include <histedit.h>
#endif

namespace talkie::cli {

#ifdef TALKIE_HAVE_LIBEDIT
namespace {

std::string g_prompt;
volatile std::sig_atomic_t* g_interrupted = nullptr;
bool g_cancelled = false;

const char* PromptText(EditLine*) { return g_prompt.c_str(); }

// One byte of stdin; false at end of input. Waits in poll() so that a
// Ctrl-C (which interrupts poll even under SA_RESTART) is seen at once.
bool ReadByte(unsigned char* byte) {
  while (true) {
    if (g_interrupted && *g_interrupted) return false;
    pollfd fd = {STDIN_FILENO, POLLIN, 0};
    if (::poll(&fd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    const ssize_t n = ::read(STDIN_FILENO, byte, 1);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

// libedit's character source: decodes UTF-8 itself, and turns a Ctrl-C into
// "accept the line" with the line marked cancelled (the caller drops it).
int ReadChar(EditLine*, wchar_t* out) {
  unsigned char b = 0;
  if (!ReadByte(&b)) {
    if (g_interrupted && *g_interrupted) {
      *g_interrupted = 0;
      g_cancelled = true;
      *out = L'\n';
      return 1;
    }
    return 0;  // end of input
  }
  const int extra = b < 0x80           ? 0
                    : (b >> 5) == 0x6  ? 1
                    : (b >> 4) == 0xE  ? 2
                    : (b >> 3) == 0x1E ? 3
                                       : -1;
  if (extra < 0) {
    *out = 0xFFFD;
    return 1;
  }
  uint32_t cp = extra == 0 ? b : b & (0x3F >> extra);
  for (int i = 0; i < extra; ++i) {
    unsigned char c = 0;
    if (!ReadByte(&c) || (c & 0xC0) != 0x80) {
      *out = 0xFFFD;
      return 1;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *out = static_cast<wchar_t>(cp);
  return 1;
}

}  // namespace

struct LineReader::Editor {
  EditLine* el = nullptr;
  History* history = nullptr;
  ~Editor() {
    if (el) el_end(el);
    if (history) history_end(history);
  }
};
#else
struct LineReader::Editor {};
#endif

LineReader::LineReader(volatile std::sig_atomic_t* interrupted)
    : interactive_(::isatty(STDIN_FILENO) == 1) {
#ifdef TALKIE_HAVE_LIBEDIT
  if (!interactive_) return;
  std::setlocale(LC_CTYPE, "");  // libedit hands back lines in the locale's encoding
  g_interrupted = interrupted;
  editor_ = std::make_unique<Editor>();
  editor_->history = history_init();
  HistEvent event;
  history(editor_->history, &event, H_SETSIZE, 1000);
  history(editor_->history, &event, H_SETUNIQUE, 1);
  editor_->el = el_init("talkie", stdin, stdout, stderr);
  el_set(editor_->el, EL_EDITOR, "emacs");
  el_set(editor_->el, EL_PROMPT, &PromptText);
  el_set(editor_->el, EL_HIST, history, editor_->history);
  el_set(editor_->el, EL_GETCFN, &ReadChar);
  el_source(editor_->el, nullptr);  // the user's ~/.editrc, if any
#else
  (void)interrupted;
#endif
}

LineReader::~LineReader() = default;

std::optional<std::string> LineReader::Read(const std::string& prompt) {
#ifdef TALKIE_HAVE_LIBEDIT
  if (editor_) {
    g_prompt = prompt;
    while (true) {
      g_cancelled = false;
      int count = 0;
      const char* line = el_gets(editor_->el, &count);
      if (!line || count <= 0) return std::nullopt;
      if (g_cancelled) continue;  // Ctrl-C: the line is dropped, a fresh prompt follows
      std::string text(line, static_cast<size_t>(count));
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      HistEvent event;
      if (!text.empty()) history(editor_->history, &event, H_ENTER, text.c_str());
      return text;
    }
  }
#endif
  if (interactive_) {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace talkie::cli
