// libFuzzer target: the server's request parsers themselves (ParseRequest for
// both endpoints, ParseTokenizeRequest, Detokenize) on arbitrary bodies, with
// the bundled model's tokenizer. Any outcome other than a result or an error
// the server turns into a 4xx (talkie::Error and its ApiError) is a bug; deep
// nesting must be refused before any recursive walk (issue #22).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/openai_api.h"

namespace {

const talkie::Tokenizer& FuzzTokenizer() {
  // Run from the repository root (scripts/fuzz.sh does).
  static const talkie::Tokenizer tok = talkie::Tokenizer::Load("models/talkie-tiny-1930");
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto& tok = FuzzTokenizer();
  talkie::server::ApiLimits limits;
  limits.context = 2048;
  for (auto endpoint : {talkie::server::Endpoint::kCompletions, talkie::server::Endpoint::kChat}) {
    try {
      talkie::server::ParseRequest(endpoint, body, tok, limits, 42);
    } catch (const talkie::Error&) {
    }
  }
  try {
    talkie::server::ParseTokenizeRequest(body, tok);
  } catch (const talkie::Error&) {
  }
  try {
    talkie::server::Detokenize(body, tok);
  } catch (const talkie::Error&) {
  }
  return 0;
}
