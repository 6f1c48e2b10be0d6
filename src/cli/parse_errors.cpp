// Parse error messages (see parse_errors.h).
#include "cli/parse_errors.h"

#include <regex>
#include <set>
#include <sstream>

namespace talkie::cli {
namespace {

// The subcommand named on the command line, or nullptr.
const CLI::App* NamedCommand(const CLI::App& app, int argc, char** argv) {
  if (argc < 2) return nullptr;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->get_name() == argv[1]) return sub;
  return nullptr;
}

std::string CommandList(const CLI::App& app) {
  std::string list;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    list += (list.empty() ? "" : ", ") + sub->get_name();
  return list;
}

// The arguments of CLI11's "The following arguments were not expected: b a"
// in command-line order (CLI11 lists them in reverse).
std::string Extras(const std::string& message, int argc, char** argv) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos) return message;
  std::multiset<std::string> words;
  std::istringstream in(message.substr(colon + 2));
  for (std::string w; in >> w;) words.insert(w);
  std::string ordered;
  for (int i = 2; i < argc; ++i) {
    const auto it = words.find(argv[i]);
    if (it == words.end()) continue;
    ordered += (ordered.empty() ? "" : " ") + *it;
    words.erase(it);
  }
  return words.empty() ? ordered : message.substr(colon + 2);
}

}  // namespace

std::string DescribeParseError(const CLI::ParseError& e, const CLI::App& app, int argc,
                               char** argv) {
  const CLI::App* command = NamedCommand(app, argc, argv);
  if (!command) {
    if (argc < 2) return "no command given (one of: " + CommandList(app) + "; see talkie --help)";
    const std::string first = argv[1];
    if (!first.empty() && first[0] == '-')
      return "unknown option '" + first + "' (options go after the command; see talkie --help)";
    return "unknown command '" + first + "' (commands: " + CommandList(app) + ")";
  }
  const std::string help = " (see talkie " + command->get_name() + " --help)";
  const std::string message = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    const std::string extras = Extras(message, argc, argv);
    if (!extras.empty() && extras[0] == '-') return "unknown option " + extras + help;
    return "unexpected argument(s): " + extras + " (quote a prompt that has spaces)" + help;
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e)) {
    // "Could not convert: --max-new-tokens = abc"
    static const std::regex kConversion("Could not convert: (\\S+) = (.*)");
    std::smatch m;
    if (std::regex_match(message, m, kConversion))
      return m[1].str() + ": '" + m[2].str() + "' is not a valid number" + help;
  }
  return message + help;
}

}  // namespace talkie::cli
