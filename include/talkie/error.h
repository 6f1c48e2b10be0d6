// talkie::Error: the one exception type the engine throws for bad input
// (files, configs, token ids, shapes, options). Its message always names what
// is wrong (file, tensor, field, argument), so it can be shown to a user as is.
// The library never aborts on bad input; other exceptions mean a bug (or
// std::bad_alloc when memory runs out).
#pragma once

#include <stdexcept>
#include <string>

#include "talkie/export.h"

namespace talkie {

class TALKIE_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws Error(message) when `condition` is false. Keeps validation one line.
inline void Check(bool condition, const std::string& message) {
  if (!condition) throw Error(message);
}

}  // namespace talkie
