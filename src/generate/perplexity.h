// Perplexity of a token sequence under the model: exp(mean negative
// log-likelihood of every token given the ones before it), over windows of at
// most the context length. With stride < window, windows overlap and each
// token is scored once, in the first window where it has the most context
// available (the Hugging Face sliding-window recipe).
#pragma once

#include <cstdint>
#include <vector>

#include "model/model.h"

namespace talkie::generate {

struct PerplexityResult {
  double perplexity = 0.0;
  double mean_nll = 0.0;          // nats per token
  int64_t tokens = 0;             // tokens scored (all but the first)
  std::vector<double> token_nll;  // [tokens]: -log p(ids[i + 1] | what came before)
};

// window: tokens per forward (0 = the model's context); stride: how far each
// window moves (0 = window, no overlap).
PerplexityResult Perplexity(const model::Model& model, const std::vector<int32_t>& ids,
                            int64_t window = 0, int64_t stride = 0);

}  // namespace talkie::generate
