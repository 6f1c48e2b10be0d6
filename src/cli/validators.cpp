// Integer validators (see validators.h).
#include "cli/validators.h"

#include <cerrno>
#include <cstdlib>
#include <string>

namespace talkie::cli {

CLI::Validator IntegerIn(int64_t min, int64_t max) {
  const std::string range = max == std::numeric_limits<int64_t>::max()
                                ? ">= " + std::to_string(min)
                                : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(text.c_str(), &end, 10);
        const bool whole = !text.empty() && end && *end == '\0';
        if (!whole || errno == ERANGE || v < min || v > max)
          return "must be an integer " + range + ", got '" + text + "'";
        return "";
      },
      "INT");
}

CLI::Validator SeedValue() { return IntegerIn(0, int64_t{1} << 53); }

}  // namespace talkie::cli
