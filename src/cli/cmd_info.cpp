// `talkie info` (placeholder until implemented).
#include "cli/commands.h"

namespace talkie::cli {
void RegisterInfoCommand(CLI::App& app) { app.add_subcommand("info", "not yet implemented"); }
}  // namespace talkie::cli
