// Generation configs the generate tests share.
#pragma once

#include <cstdint>
#include <vector>

#include "generate/sequence.h"

namespace talkie::testing {

// Greedy, with no stop token (the fixtures' greedy runs have none).
inline generate::GenerationConfig Greedy(int64_t n) {
  generate::GenerationConfig c;
  c.max_new_tokens = n;
  c.sampling.temperature = 0.0f;
  c.stop_token_ids = std::vector<int32_t>{};
  return c;
}

}  // namespace talkie::testing
