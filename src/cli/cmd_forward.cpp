// `talkie forward` (placeholder until implemented).
#include "cli/commands.h"

namespace talkie::cli {
void RegisterForwardCommand(CLI::App& app) { app.add_subcommand("forward", "not yet implemented"); }
}  // namespace talkie::cli
