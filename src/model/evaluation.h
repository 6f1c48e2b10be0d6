// Evaluations of a model on a token sequence: its perplexity, and how far
// another model's logits are from it (the cost of quantization or of the fast
// policy).
#pragma once

#include <cstdint>
#include <vector>

#include "model/hooks.h"
#include "model/model.h"

namespace talkie::model {

// Perplexity: exp(mean negative log-likelihood of every token given the ones
// before it), over windows of at most the context length. With stride <
// window, windows overlap and each token is scored once, in the first window
// where it has the most context available (the Hugging Face sliding-window
// recipe).
struct PerplexityResult {
  double perplexity = 0.0;
  double mean_nll = 0.0;          // nats per token
  int64_t tokens = 0;             // tokens scored (all but the first)
  std::vector<double> token_nll;  // [tokens]: -log p(ids[i + 1] | what came before)
};

// window: tokens per forward (0 = the model's context); stride: how far each
// window moves (0 = window, no overlap). hooks (optional): run on every
// window's forward (steering, hooks.h).
PerplexityResult Perplexity(const Model& model, const std::vector<int32_t>& ids, int64_t window = 0,
                            int64_t stride = 0, const HookSet* hooks = nullptr);

struct QualityReport {
  double mean_kl = 0.0;  // mean KL(reference || candidate) per position, nats
  double max_kl = 0.0;
  double top1_agreement = 0.0;  // fraction of positions with the same argmax
  double max_abs_logit_diff = 0.0;
  int64_t positions = 0;
  bool finite = true;  // no NaN / inf in the candidate's logits
};

// Compares all-position logits of two models of the same vocabulary on `ids`
// (windows of at most `window` tokens; 0 = the reference's context).
QualityReport CompareLogits(const Model& reference, const Model& candidate,
                            const std::vector<int32_t>& ids, int64_t window = 0);

}  // namespace talkie::model
