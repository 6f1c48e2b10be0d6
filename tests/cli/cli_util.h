// Runs the built `talkie` program (TALKIE_CLI_PATH) for end-to-end tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace talkie::testing {

// The bundled model's folder (it has a tokenizer).
inline const std::string kBundled = TALKIE_DEFAULT_MODEL_DIR;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `args` is appended to the program path as is (quote where needed).
inline CommandResult RunTalkie(const std::string& args, const std::string& stdin_text = "") {
  std::string command = std::string(TALKIE_CLI_PATH) + " " + args + " 2>&1";
  std::string input_file;
  if (!stdin_text.empty()) {
    // One file per test process: CTest runs tests in parallel processes.
    input_file = ::testing::TempDir() + "talkie_cli_stdin." + std::to_string(getpid()) + ".txt";
    std::ofstream(input_file, std::ios::binary) << stdin_text;
    command += " < " + input_file;
  } else {
    command += " < /dev/null";
  }
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The first line of `output` that is a JSON object (a command's --json line).
inline nlohmann::json JsonLine(const std::string& output) {
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') return nlohmann::json::parse(line);
  return {};
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace talkie::testing
