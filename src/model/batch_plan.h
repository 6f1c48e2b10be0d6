// Checks a forward step's input against the model and its caches before any
// cache is touched: PlanBatch for Forward (resolving the full attention mask
// [batch, kv_len] and the position ids [batch, q_len], spec §5), PlanRagged
// for ForwardRagged.
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

// A ragged step: sequence i's new tokens are rows [first_row[i], first_row[i]
// + q_len[i]) of `ids`; its cache holds no padding, so every key is real and
// positions continue from the cache length.
struct RaggedPlan {
  std::vector<int32_t> ids;  // all new tokens, sequence after sequence
  std::vector<int64_t> first_row, q_len, past;
  std::vector<std::vector<uint8_t>> masks;      // [kv_len] of ones, per sequence
  std::vector<std::vector<int64_t>> positions;  // [q_len], per sequence
  std::vector<int64_t> logit_rows;              // rows of `ids` that get logits
  std::vector<int64_t> logit_count;             // logits rows per sequence
};

// Validates every step (own batch-1 cache, not shared, of this model's width
// and policy's element type; ids in the vocabulary; room in the context) and
// lays the rows out. Sets an empty cache's element type (MatchCacheType).
RaggedPlan PlanRagged(const Model& model, const std::vector<SequenceStep>& steps);

// The cache stores K/V as the model's policy wants (fast: bf16); a cache
// still holding tokens of the other type is refused.
void MatchCacheType(const Model& model, KvCache& cache);

}  // namespace talkie::model
