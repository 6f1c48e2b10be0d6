// Prompt input (see prompt_input.h).
#include "cli/prompt_input.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "talkie/error.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {

std::vector<std::string> ReadPromptsFile(const std::string& path) {
  std::error_code ec;
  Check(!std::filesystem::is_directory(path, ec),
        "--prompts-file " + path + ": is a directory, expected a file with one prompt per line");
  std::ifstream in(path, std::ios::binary);
  Check(static_cast<bool>(in), "--prompts-file " + path + ": cannot open prompts file");
  std::vector<std::string> prompts;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    // A skipped line would shift every later prompt's index off its line.
    Check(!line.empty(), where + "blank line (one prompt per line; remove blank lines)");
    const size_t bad = FindInvalidUtf8(line);
    Check(bad == std::string_view::npos,
          where + "invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line");
    prompts.push_back(line);
  }
  Check(!in.bad(), path + ": read failed");
  Check(!prompts.empty(), "--prompts-file " + path + ": no prompts (one per line)");
  return prompts;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Check(in.good(), "cannot open " + path);
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  Check(!in.bad(), "cannot read " + path);
  return bytes;
}

std::string ReadPromptFromStdin() {
  std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

bool StdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }

}  // namespace talkie::cli
