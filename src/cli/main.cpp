// Entry point of the `talkie` command-line program: builds the subcommand
// table and reports every error, CLI11's included, as one line on stderr
// (`talkie: error: ...`) with exit code 1.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/parse_errors.h"
#include "talkie/engine.h"
#include "talkie/error.h"

int main(int argc, char** argv) {
  CLI::App app{"talkie.cpp: inference engine for the Talkie language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    return std::string("talkie ") + talkie::Version() + " (SIMD target: " + talkie::SimdTarget() +
           ")";
  });
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
  talkie::cli::RegisterLensCommand(app);
  talkie::cli::RegisterCaptureCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "talkie: error: %s\n",
                 talkie::cli::DescribeParseError(e, app, argc, argv).c_str());
    return 1;
  } catch (const talkie::Error& e) {
    std::fprintf(stderr, "talkie: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "talkie: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
