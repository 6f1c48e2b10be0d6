// The `talkie` subcommands. Each lives in its own cmd_<name>.cpp and registers
// itself on the top-level CLI11 app; the callback it sets runs the command and
// throws talkie::Error for bad input (main turns that into a one-line error).
#pragma once

#include <CLI/CLI.hpp>

namespace talkie::cli {

void RegisterInfoCommand(CLI::App& app);
void RegisterForwardCommand(CLI::App& app);
void RegisterTokenizeCommands(CLI::App& app);  // tokenize + detokenize
void RegisterGenerateCommand(CLI::App& app);
void RegisterChatCommand(CLI::App& app);
void RegisterPerplexityCommand(CLI::App& app);
void RegisterSynthCommand(CLI::App& app);
void RegisterBenchCommand(CLI::App& app);
void RegisterQuantizeCommand(CLI::App& app);
void RegisterCompareCommand(CLI::App& app);
void RegisterServeCommand(CLI::App& app);
void RegisterLensCommand(CLI::App& app);
void RegisterCaptureCommand(CLI::App& app);

}  // namespace talkie::cli
