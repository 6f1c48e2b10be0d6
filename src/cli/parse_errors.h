// Turns CLI11's parse errors into the program's one documented format
// (`talkie: error: ...`, exit code 1): CLI11's own wording and exit codes
// (104 / 106 / 109 ...) never reach the user.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace talkie::cli {

// The one-line message (without the "talkie: error: " prefix) for a parse
// error that is not a request for help / version. `argv` names the command.
std::string DescribeParseError(const CLI::ParseError& e, const CLI::App& app, int argc,
                               char** argv);

}  // namespace talkie::cli
