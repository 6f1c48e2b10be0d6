// A bound on the nesting depth of JSON text, checked by a linear scan before
// the text is parsed. nlohmann::json parses without recursion, but copying,
// comparing, dumping and destroying a value recurse over its depth, so a
// 100,000-level value (a few hundred KB) would overflow the stack of whoever
// touches it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace talkie {

// Deeper than any request, config.json or tokenizer.json has reason to be.
inline constexpr int kMaxJsonDepth = 64;

// The deepest nesting of [ and { outside string literals; stops counting once
// past `limit`. Malformed text is left to the parser to reject.
inline int JsonNestingDepth(std::string_view text, int limit = kMaxJsonDepth) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Throws Error("<what>: JSON nesting is deeper than N levels") when it is.
inline void CheckJsonDepth(std::string_view text, const std::string& what,
                           int limit = kMaxJsonDepth) {
  Check(JsonNestingDepth(text, limit) <= limit,
        what + ": JSON nesting is deeper than " + std::to_string(limit) + " levels");
}

}  // namespace talkie
