// libFuzzer target for the guard in front of the server's request parser
// (issue #22): arbitrary bytes as a request body. The depth scan must agree
// with the depth of what nlohmann::json parses, and whatever the scan lets
// through must survive the recursive copies, comparisons and dumps that
// ParseRequest does (a 100,000-deep body used to overflow the stack).
// ParseRequest itself lives in talkie_server, which the fuzz build does not
// link; the scan is what stands between it and deep input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_limits.h"

namespace {

using json = nlohmann::json;

int Depth(const json& j) {
  if (!j.is_structured()) return 0;
  int deepest = 0;
  for (const json& child : j) deepest = std::max(deepest, Depth(child));
  return deepest + 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const int scanned = talkie::JsonNestingDepth(body);
  if (scanned > talkie::kMaxJsonDepth) return 0;  // the server answers 400 unparsed
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  // The scan must never miss a level. It may count more: nlohmann stops at
  // a NUL byte and the scan does not (refusing such a body is harmless).
  const int depth = Depth(j);
  if (depth > scanned || (body.find('\0') == std::string_view::npos && depth != scanned))
    std::abort();
  const json copy = j;  // what ParsePrompt does with "prompt"
  if (copy != j) std::abort();
  const std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  const json again = json::parse(text, nullptr, false);
  if (again.is_discarded() || talkie::JsonNestingDepth(text) != depth) std::abort();
  return 0;
}
