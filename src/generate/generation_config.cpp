// Checking a GenerationConfig and naming finish reasons (see sequence.h):
// apart from the sequence itself, so that code that only parses requests (the
// server's request parsers and their fuzzer) links without the model.
#include <string>

#include "common/error.h"
#include "generate/sequence.h"

namespace talkie::generate {

void ValidateGenerationConfig(const GenerationConfig& c) {
  ValidateSamplingConfig(c.sampling);
  Check(c.max_new_tokens >= 0,
        "max_new_tokens must be >= 0, got " + std::to_string(c.max_new_tokens));
  for (const std::string& s : c.stop_strings) Check(!s.empty(), "stop strings must not be empty");
}

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStopToken:
      return "stop_token";
    case FinishReason::kStopString:
      return "stop_string";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "?";
}

}  // namespace talkie::generate
