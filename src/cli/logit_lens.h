// The logit lens (nostalgebraist 2020): what each layer's residual stream
// "would predict" if it were the last one. For layer l (0-based) and
// position s: logits_l = lm_head_gain * W_U * rms(resid_post_l[s]), then a
// float64 softmax over the vocabulary. resid_post_l is captured at
// blocks.{l}.hook_resid_post; for the last block rms(resid_post) is the real
// logits' input, so its lens logits are the model's real logits bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "talkie/model.h"

namespace talkie::cli {

struct LensCandidate {
  int32_t id = 0;
  float logit = 0;
  double probability = 0;  // softmax over the whole vocabulary, in float64
};

struct LensResult {
  int64_t n_layer = 0;
  std::vector<int64_t> positions;  // the reported positions, ascending
  // top[l][i]: the top-K candidates of layer l at positions[i], most likely
  // first (ties: the lower id first).
  std::vector<std::vector<std::vector<LensCandidate>>> top;
};

// Runs `ids` (1 sequence, at most the context length) through the model once
// and applies the lens at `positions` (each in [0, ids.size())), keeping the
// `top_k` (1..vocab) most likely tokens per layer and position.
LensResult RunLogitLens(const Model& model, const std::vector<int32_t>& ids,
                        const std::vector<int64_t>& positions, int64_t top_k);

// The top_k candidates of one row of logits (exposed for tests of ties / K).
std::vector<LensCandidate> TopCandidates(const float* logits, int64_t vocab, int64_t top_k);

}  // namespace talkie::cli
