// RunPrompts: left-pads, chunks, and gathers per-sequence outputs.
#include "model/prompt_runner.h"

#include <algorithm>
#include <string>

#include "common/error.h"
#include "model/forward.h"

namespace talkie::model {

std::vector<SequenceOutputs> RunPrompts(const Model& model,
                                        const std::vector<std::vector<int32_t>>& prompts,
                                        const PromptRunOptions& options) {
  const ModelConfig& c = model.config();
  Check(!prompts.empty(), "no prompt given");
  const auto batch = static_cast<int64_t>(prompts.size());
  int64_t total = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    Check(!prompts[b].empty(), "prompt " + std::to_string(b) + ": empty id list");
    total = std::max<int64_t>(total, static_cast<int64_t>(prompts[b].size()));
  }
  Check(options.chunk >= 0, "chunk must be >= 0, got " + std::to_string(options.chunk));
  const int64_t chunk = options.chunk > 0 ? options.chunk : total;

  // Left padding: row b's real tokens occupy slots [pad[b], total).
  std::vector<int64_t> pad(prompts.size());
  std::vector<int32_t> ids(static_cast<size_t>(batch * total), options.pad_id);
  std::vector<uint8_t> mask(static_cast<size_t>(batch * total), 0);
  for (int64_t b = 0; b < batch; ++b) {
    pad[b] = total - static_cast<int64_t>(prompts[b].size());
    for (int64_t t = pad[b]; t < total; ++t) {
      ids[b * total + t] = prompts[b][t - pad[b]];
      mask[b * total + t] = 1;
    }
  }

  std::vector<SequenceOutputs> out(prompts.size());
  for (int64_t b = 0; b < batch; ++b) {
    const auto len = static_cast<int64_t>(prompts[b].size());
    out[b].logits.resize(static_cast<size_t>(len * c.vocab_size));
    if (options.output_hidden_states)
      out[b].hidden_states.assign(c.n_layer + 1, std::vector<float>(len * c.n_embd));
    if (options.output_attentions)
      out[b].attentions.assign(c.n_layer, std::vector<float>(c.n_head * len * len));
  }

  KvCache cache(c, batch,
                std::min<int64_t>(c.max_position_embeddings, std::max<int64_t>(total, 1)));
  for (int64_t start = 0; start < total; start += chunk) {
    const int64_t q_len = std::min(chunk, total - start);
    ForwardInput in;
    in.batch = batch;
    in.q_len = q_len;
    in.output_hidden_states = options.output_hidden_states;
    in.output_attentions = options.output_attentions;
    in.hooks = options.hooks;
    in.allow_padding_only_rows = true;  // a short prompt's first chunks may be all padding
    in.attention_mask.resize(static_cast<size_t>(batch * (start + q_len)));
    for (int64_t b = 0; b < batch; ++b) {
      in.ids.insert(in.ids.end(), ids.begin() + b * total + start,
                    ids.begin() + b * total + start + q_len);
      std::copy_n(mask.begin() + b * total, start + q_len,
                  in.attention_mask.begin() + b * (start + q_len));
    }
    const ForwardOutput o = Forward(model, cache, in);
    const int64_t kv_len = o.kv_len;
    for (int64_t b = 0; b < batch; ++b) {
      const auto len = static_cast<int64_t>(prompts[b].size());
      for (int64_t t = 0; t < q_len; ++t) {
        const int64_t slot = start + t;
        if (slot < pad[b]) continue;
        const int64_t pos = slot - pad[b];  // index among the real tokens
        std::copy_n(&o.logits[(b * q_len + t) * c.vocab_size], c.vocab_size,
                    &out[b].logits[pos * c.vocab_size]);
        for (size_t i = 0; i < o.hidden_states.size(); ++i)
          std::copy_n(&o.hidden_states[i][(b * q_len + t) * c.n_embd], c.n_embd,
                      &out[b].hidden_states[i][pos * c.n_embd]);
        for (size_t l = 0; l < o.attentions.size(); ++l) {
          for (int64_t h = 0; h < c.n_head; ++h) {
            // Keys of real slots [pad[b], kv_len) map to columns [0, kv_len - pad[b]).
            const float* src = &o.attentions[l][((b * c.n_head + h) * q_len + t) * kv_len + pad[b]];
            std::copy_n(src, kv_len - pad[b], &out[b].attentions[l][(h * len + pos) * len]);
          }
        }
      }
    }
  }
  return out;
}

}  // namespace talkie::model
