// Entry point of the `talkie` command-line program: builds the subcommand
// table and reports errors as one line on stderr with a non-zero exit code.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "common/error.h"

int main(int argc, char** argv) {
  CLI::App app{"talkie.cpp: inference engine for the Talkie language models"};
  app.require_subcommand(1);
  talkie::cli::RegisterInfoCommand(app);
  talkie::cli::RegisterForwardCommand(app);
  talkie::cli::RegisterTokenizeCommands(app);
  talkie::cli::RegisterGenerateCommand(app);
  talkie::cli::RegisterChatCommand(app);
  talkie::cli::RegisterPerplexityCommand(app);
  talkie::cli::RegisterSynthCommand(app);
  talkie::cli::RegisterBenchCommand(app);
  talkie::cli::RegisterQuantizeCommand(app);
  talkie::cli::RegisterCompareCommand(app);
  talkie::cli::RegisterServeCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const talkie::Error& e) {
    std::fprintf(stderr, "talkie: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "talkie: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
