// Sliding-window perplexity (see perplexity.h).
#include "generate/perplexity.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/forward.h"
#include "ops/softmax.h"

namespace talkie::generate {

PerplexityResult Perplexity(const model::Model& model, const std::vector<int32_t>& ids,
                            int64_t window, int64_t stride) {
  const int64_t context = model.config().max_position_embeddings;
  if (window == 0) window = context;
  if (stride == 0) stride = window;
  Check(window >= 2 && window <= context,
        "perplexity: window must be in [2, " + std::to_string(context) + "]");
  Check(stride >= 1 && stride <= window, "perplexity: stride must be in [1, window]");
  const auto n = static_cast<int64_t>(ids.size());
  Check(n >= 2, "perplexity: need at least 2 tokens, got " + std::to_string(n));
  const int64_t vocab = model.config().vocab_size;

  PerplexityResult r;
  r.token_nll.reserve(static_cast<size_t>(n - 1));
  double nll = 0.0;
  int64_t scored_until = 1;  // tokens [1, scored_until) are scored
  for (int64_t begin = 0; scored_until < n; begin += stride) {
    const int64_t end = std::min(begin + window, n);
    const std::vector<int32_t> chunk(ids.begin() + begin, ids.begin() + end);
    const model::ForwardOutput out = model::ForwardSequence(model, chunk);
    // Logits at position t predict token t + 1.
    for (int64_t target = std::max(scored_until, begin + 1); target < end; ++target) {
      const float* row = &out.logits[(target - 1 - begin) * vocab];
      r.token_nll.push_back(ops::LogSumExp(row, vocab) - static_cast<double>(row[ids[target]]));
      nll += r.token_nll.back();
    }
    scored_until = std::max(scored_until, end);
    if (end == n) break;
  }
  r.tokens = n - 1;
  r.mean_nll = nll / static_cast<double>(r.tokens);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

}  // namespace talkie::generate
