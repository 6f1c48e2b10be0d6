// Checks a ForwardInput against the model and cache, and resolves the full
// attention mask [batch, kv_len] and the position ids [batch, q_len] (spec §5).
#pragma once

#include <cstdint>
#include <vector>

#include "model/forward.h"

namespace talkie::model {

struct BatchPlan {
  int64_t batch = 0, q_len = 0, past = 0, kv_len = 0;
  std::vector<uint8_t> mask;             // [batch, kv_len], 1 = real token
  std::vector<int64_t> positions;        // [batch, q_len]
  std::vector<int64_t> logit_positions;  // indices in [0, q_len)
};

// Position given to padded slots when positions are derived (they are masked).
inline constexpr int64_t kPaddingPosition = 1;

BatchPlan PlanBatch(const Model& model, const KvCache& cache, const ForwardInput& input);

}  // namespace talkie::model
