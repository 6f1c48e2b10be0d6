// Evaluations of a model on a token sequence: its perplexity, and how far
// another model's logits are from it (the cost of quantization or of the fast
// policy).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/hooks.h"
#include "model/model.h"
#include "talkie/convert.h"

namespace talkie::model {

// Perplexity: exp(mean negative log-likelihood of every token given the ones
// before it), over windows of at most the context length. With stride <
// window, windows overlap and each token is scored once, in the first window
// where it has the most context available (the Hugging Face sliding-window
// recipe). A window's first token has no context inside it, so with stride ==
// window (the default) the first token of every window is not scored.
struct PerplexityResult {
  double perplexity = 0.0;
  double mean_nll = 0.0;          // nats per scored token
  int64_t tokens = 0;             // tokens scored: all but the first when the text fits one window
  std::vector<double> token_nll;  // [tokens]: -log p(token | what came before), in text order
};

// Called after each forward with the tokens scored so far and the number
// that will be scored in all (PerplexityResult::tokens).
using PerplexityProgress = std::function<void(int64_t scored, int64_t total)>;

// Tokens a window feeds through its KV cache per forward: the logits are
// bit-identical to one forward of the whole window (docs/architecture.md),
// the logits buffer stays bounded and progress comes within a window.
inline constexpr int64_t kPerplexityChunk = 512;

// window: tokens per window (0 = the model's context); stride: how far each
// window moves (0 = window, no overlap). hooks (optional): run on every
// forward (steering, hooks.h), one call per chunk of kPerplexityChunk
// tokens. progress (optional): see PerplexityProgress.
PerplexityResult Perplexity(const Model& model, const std::vector<int32_t>& ids, int64_t window = 0,
                            int64_t stride = 0, const HookSet* hooks = nullptr,
                            const PerplexityProgress& progress = {});

// The public report (talkie/convert.h): mean / max KL(reference ||
// candidate) per position, top-1 agreement, max |logit diff|, positions, and
// whether the candidate's logits were all finite.
using QualityReport = LogitComparison;

// Compares all-position logits of two models of the same vocabulary on `ids`
// (windows of at most `window` tokens; 0 = the reference's context).
QualityReport CompareLogits(const Model& reference, const Model& candidate,
                            const std::vector<int32_t>& ids, int64_t window = 0);

}  // namespace talkie::model
