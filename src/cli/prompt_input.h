// Reading prompts for `talkie generate`: a prompts file (one per line,
// checked line by line before any work) or standard input.
#pragma once

#include <string>
#include <vector>

namespace talkie::cli {

// Every line of `path` is one prompt; line i (1-based) is prompt i - 1, so
// the JSON `index` is the line number minus one. CRLF line ends are accepted.
// Throws talkie::Error naming the file (and line) for: a directory, a file
// that cannot be read, a blank line, invalid UTF-8, no lines at all.
std::vector<std::string> ReadPromptsFile(const std::string& path);

// The bytes of a file; Error "cannot open PATH" / "cannot read PATH".
std::string ReadFileBytes(const std::string& path);
// All of standard input, minus one trailing newline (what `echo` adds).
std::string ReadPromptFromStdin();

bool StdinIsTerminal();

}  // namespace talkie::cli
