// Input validation and mask / position resolution for Forward.
#include "model/batch_plan.h"

#include <string>

#include "common/error.h"

namespace talkie::model {

BatchPlan PlanBatch(const Model& model, const KvCache& cache, const ForwardInput& in) {
  const ModelConfig& c = model.config();
  BatchPlan p;
  p.batch = in.batch;
  p.q_len = in.q_len;
  Check(in.batch > 0, "batch must be positive, got " + std::to_string(in.batch));
  Check(in.q_len > 0, "input_ids: empty id list (q_len must be positive)");
  Check(static_cast<int64_t>(in.ids.size()) == in.batch * in.q_len,
        "input_ids: expected batch * q_len = " + std::to_string(in.batch * in.q_len) +
            " ids, got " + std::to_string(in.ids.size()));
  Check(cache.batch() == in.batch, "kv cache: batch size " + std::to_string(cache.batch()) +
                                       " does not match the input batch " +
                                       std::to_string(in.batch));
  Check(cache.n_embd() == c.n_embd, "kv cache: made for a model of another width");
  for (size_t i = 0; i < in.ids.size(); ++i) {
    const int32_t id = in.ids[i];
    if (id < 0 || id >= c.vocab_size)
      throw Error("input_ids: token id " + std::to_string(id) + " at index " + std::to_string(i) +
                  " is outside the vocabulary [0, " + std::to_string(c.vocab_size) + ")");
  }
  p.past = cache.length();
  p.kv_len = p.past + in.q_len;
  if (p.kv_len > cache.capacity())
    throw Error("context full: " + std::to_string(p.past) + " cached + " +
                std::to_string(in.q_len) + " new tokens exceed the context limit of " +
                std::to_string(cache.capacity()));

  // Full mask: given for all keys, given for the new tokens only (cached slots
  // count as real), or absent (all real).
  const auto mask_size = static_cast<int64_t>(in.attention_mask.size());
  p.mask.assign(static_cast<size_t>(p.batch * p.kv_len), 1);
  if (mask_size == p.batch * p.kv_len) {
    p.mask = in.attention_mask;
  } else if (mask_size == p.batch * p.q_len) {
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t t = 0; t < p.q_len; ++t)
        p.mask[b * p.kv_len + p.past + t] = in.attention_mask[b * p.q_len + t];
  } else if (mask_size != 0) {
    throw Error("attention_mask: expected [batch, kv_len] = " + std::to_string(p.batch * p.kv_len) +
                " or [batch, q_len] = " + std::to_string(p.batch * p.q_len) + " values, got " +
                std::to_string(mask_size));
  }
  for (int64_t b = 0; b < p.batch; ++b) {
    bool any = false;
    for (int64_t j = 0; j < p.kv_len; ++j) {
      uint8_t& m = p.mask[b * p.kv_len + j];
      Check(m <= 1, "attention_mask: values must be 0 or 1, got " + std::to_string(m) + " in row " +
                        std::to_string(b));
      any = any || m;
    }
    Check(any || in.allow_padding_only_rows,
          "attention_mask: row " + std::to_string(b) + " has no real token");
  }

  const int64_t max_pos = model.rope().max_positions();
  if (!in.position_ids.empty()) {
    Check(static_cast<int64_t>(in.position_ids.size()) == p.batch * p.q_len,
          "position_ids: expected [batch, q_len] = " + std::to_string(p.batch * p.q_len) +
              " values, got " + std::to_string(in.position_ids.size()));
    p.positions = in.position_ids;
  } else {
    // cumsum(mask) - 1 over all keys; padded slots get a placeholder.
    p.positions.resize(static_cast<size_t>(p.batch * p.q_len));
    for (int64_t b = 0; b < p.batch; ++b) {
      int64_t seen = 0;
      for (int64_t j = 0; j < p.kv_len; ++j) {
        const bool real = p.mask[b * p.kv_len + j] != 0;
        seen += real;
        if (j >= p.past)
          p.positions[b * p.q_len + (j - p.past)] = real ? seen - 1 : kPaddingPosition;
      }
    }
  }
  for (size_t i = 0; i < p.positions.size(); ++i) {
    const int64_t pos = p.positions[i];
    if (pos < 0 || pos >= max_pos)
      throw Error("position_ids: position " + std::to_string(pos) + " at index " +
                  std::to_string(i) + " is outside the RoPE table [0, " + std::to_string(max_pos) +
                  ")");
  }

  switch (in.logits) {
    case LogitsFor::kAll:
      for (int64_t t = 0; t < p.q_len; ++t) p.logit_positions.push_back(t);
      break;
    case LogitsFor::kLast:
      p.logit_positions.push_back(p.q_len - 1);
      break;
    case LogitsFor::kNone:
      break;
    case LogitsFor::kSelected:
      for (int64_t t : in.logit_positions) {
        Check(t >= 0 && t < p.q_len, "logit_positions: " + std::to_string(t) + " is outside [0, " +
                                         std::to_string(p.q_len) + ")");
        p.logit_positions.push_back(t);
      }
      break;
  }
  return p;
}

}  // namespace talkie::model
