// `talkie tokenize` / `talkie detokenize` (placeholder until implemented).
#include "cli/commands.h"

namespace talkie::cli {
void RegisterTokenizeCommands(CLI::App& app) {
  app.add_subcommand("tokenize", "not yet implemented");
  app.add_subcommand("detokenize", "not yet implemented");
}
}  // namespace talkie::cli
