// Perplexity and CompareLogits (see evaluation.h).
#include "model/evaluation.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/error.h"
#include "model/forward.h"
#include "ops/softmax.h"

namespace talkie::model {

PerplexityResult Perplexity(const Model& model, const std::vector<int32_t>& ids, int64_t window,
                            int64_t stride, const HookSet* hooks,
                            const PerplexityProgress& progress) {
  const int64_t context = model.config().max_position_embeddings;
  if (window == 0) window = context;
  if (stride == 0) stride = window;
  Check(window >= 2 && window <= context,
        "perplexity: window must be in [2, " + std::to_string(context) + "]");
  Check(stride >= 1 && stride <= window, "perplexity: stride must be in [1, window]");
  const auto n = static_cast<int64_t>(ids.size());
  Check(n >= 2, "perplexity: need at least 2 tokens, got " + std::to_string(n));
  const int64_t vocab = model.config().vocab_size;

  // A window scores its tokens after the first that no earlier window did
  // (a window's first token has no context in it): count them up front.
  int64_t to_score = 0;
  for (int64_t begin = 0, until = 1; until < n; begin += stride) {
    const int64_t end = std::min(begin + window, n);
    to_score += std::max<int64_t>(0, end - std::max(until, begin + 1));
    until = std::max(until, end);
    if (end == n) break;
  }

  PerplexityResult r;
  r.token_nll.reserve(static_cast<size_t>(to_score));
  double nll = 0.0;
  int64_t scored_until = 1;  // tokens [1, scored_until) had their chance
  for (int64_t begin = 0; scored_until < n; begin += stride) {
    const int64_t end = std::min(begin + window, n);
    KvCache cache(model.config(), 1);
    for (int64_t from = begin; from < end; from += kPerplexityChunk) {
      const int64_t to = std::min(from + kPerplexityChunk, end);
      ForwardInput input;
      input.q_len = to - from;
      input.ids.assign(ids.begin() + from, ids.begin() + to);
      input.hooks = hooks;
      const ForwardOutput out = Forward(model, cache, input);
      // Logits at position t (in [from, to)) predict token t + 1.
      for (int64_t target = std::max({scored_until, begin + 1, from + 1});
           target < std::min(end, to + 1); ++target) {
        const float* row = &out.logits[(target - 1 - from) * vocab];
        r.token_nll.push_back(ops::LogSumExp(row, vocab) - static_cast<double>(row[ids[target]]));
        nll += r.token_nll.back();
      }
      if (progress) progress(static_cast<int64_t>(r.token_nll.size()), to_score);
    }
    scored_until = std::max(scored_until, end);
    if (end == n) break;
  }
  r.tokens = static_cast<int64_t>(r.token_nll.size());
  r.mean_nll = nll / static_cast<double>(r.tokens);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

QualityReport CompareLogits(const Model& reference, const Model& candidate,
                            const std::vector<int32_t>& ids, int64_t window) {
  const int64_t vocab = reference.config().vocab_size;
  Check(candidate.config().vocab_size == vocab, "compare: the models have different vocabularies");
  Check(!ids.empty(), "compare: no tokens");
  if (window <= 0)
    window = std::min(reference.config().max_position_embeddings,
                      candidate.config().max_position_embeddings);
  QualityReport report;
  double kl_sum = 0.0;
  int64_t agree = 0;
  for (size_t begin = 0; begin < ids.size(); begin += static_cast<size_t>(window)) {
    const std::vector<int32_t> chunk(
        ids.begin() + static_cast<int64_t>(begin),
        ids.begin() + static_cast<int64_t>(std::min(ids.size(), begin + window)));
    const std::vector<float> a = ForwardSequence(reference, chunk).logits;
    const std::vector<float> b = ForwardSequence(candidate, chunk).logits;
    for (size_t t = 0; t < chunk.size(); ++t) {
      const float* pa = &a[t * vocab];
      const float* pb = &b[t * vocab];
      for (int64_t v = 0; v < vocab; ++v) {
        if (!std::isfinite(pb[v])) report.finite = false;
        report.max_abs_logit_diff =
            std::max(report.max_abs_logit_diff, static_cast<double>(std::fabs(pa[v] - pb[v])));
      }
      // log-softmax of both in double, then KL(p || q) = sum p (log p - log q).
      const double la = ops::LogSumExp(pa, vocab), lb = ops::LogSumExp(pb, vocab);
      double kl = 0;
      for (int64_t v = 0; v < vocab; ++v) {
        const double lpa = pa[v] - la, lpb = pb[v] - lb;
        kl += std::exp(lpa) * (lpa - lpb);
      }
      kl_sum += kl;
      report.max_kl = std::max(report.max_kl, kl);
      agree += (std::max_element(pa, pa + vocab) - pa) == (std::max_element(pb, pb + vocab) - pb);
      ++report.positions;
    }
  }
  report.mean_kl = kl_sum / static_cast<double>(report.positions);
  report.top1_agreement = static_cast<double>(agree) / static_cast<double>(report.positions);
  return report;
}

}  // namespace talkie::model
