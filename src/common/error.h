// talkie::Error: the one exception type the engine throws for bad input.
// Its message always names what is wrong (file, tensor, field, argument) so a
// command-line user sees a one-line, actionable error.
#pragma once

#include <stdexcept>
#include <string>

namespace talkie {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error(message) when `condition` is false. Keeps validation one line.
inline void Check(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace talkie
