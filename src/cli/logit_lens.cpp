// Logit lens (see logit_lens.h): one forward capturing every block's
// hook_resid_post, then the library's own Model::Unembed (final rms-norm +
// lm_head) per layer.
#include "cli/logit_lens.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "talkie/error.h"

namespace talkie::cli {

std::vector<LensCandidate> TopCandidates(const float* logits, int64_t vocab, int64_t top_k) {
  Check(top_k >= 1 && top_k <= vocab, "--top must be in [1, " + std::to_string(vocab) +
                                          "] (the vocabulary size), got " + std::to_string(top_k));
  // Softmax in float64: the max-shifted sum stays exact enough that the
  // printed probabilities of a 65k vocabulary add up.
  const float max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(logits[v]) - max_logit);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + top_k, order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  std::vector<LensCandidate> top;
  top.reserve(static_cast<size_t>(top_k));
  for (int64_t k = 0; k < top_k; ++k) {
    const int32_t id = order[static_cast<size_t>(k)];
    top.push_back({id, logits[id], std::exp(static_cast<double>(logits[id]) - max_logit) / sum});
  }
  return top;
}

LensResult RunLogitLens(const Model& model, const std::vector<int32_t>& ids,
                        const std::vector<int64_t>& positions, int64_t top_k) {
  const ModelConfig& c = model.config();
  const auto len = static_cast<int64_t>(ids.size());
  Check(len >= 1, "empty prompt: it encodes to no tokens");
  Check(len <= c.max_position_embeddings, "prompt has " + std::to_string(len) +
                                              " tokens; the model's context is " +
                                              std::to_string(c.max_position_embeddings));
  Check(top_k >= 1 && top_k <= c.vocab_size,
        "--top must be in [1, " + std::to_string(c.vocab_size) + "] (the vocabulary size), got " +
            std::to_string(top_k));
  for (int64_t p : positions) Check(p >= 0 && p < len, "lens position out of range");

  ForwardRequest request;
  request.input_ids = Tensor<int32_t>({1, len}, ids);
  request.capture = {"blocks.*.hook_resid_post"};
  request.logits = LogitsFor::kNone;
  const ForwardResult out = model.Forward(request);

  LensResult result;
  result.n_layer = c.n_layer;
  result.positions = positions;
  const auto rows = static_cast<int64_t>(positions.size());
  for (int64_t l = 0; l < c.n_layer; ++l) {
    // rms(resid_post) of the last block is the final logits' input, so its
    // row is the model's own logits bit for bit.
    const Tensor<float>& hidden =
        out.captured.at("blocks." + std::to_string(l) + ".hook_resid_post");
    Tensor<float> picked({rows, c.n_embd});
    for (int64_t i = 0; i < rows; ++i)
      std::copy_n(hidden.data() + positions[static_cast<size_t>(i)] * c.n_embd, c.n_embd,
                  picked.data() + i * c.n_embd);
    const Tensor<float> logits = model.Unembed(picked);
    std::vector<std::vector<LensCandidate>> layer;
    for (int64_t i = 0; i < rows; ++i)
      layer.push_back(TopCandidates(logits.data() + i * c.vocab_size, c.vocab_size, top_k));
    result.top.push_back(std::move(layer));
  }
  return result;
}

}  // namespace talkie::cli
