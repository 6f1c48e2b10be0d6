// Input validation and mask / position resolution for Forward and
// ForwardRagged.
#include "model/batch_plan.h"

#include <algorithm>
#include <cmath>
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
  if (in.inputs_embeds.empty()) {
    Check(static_cast<int64_t>(in.ids.size()) == in.batch * in.q_len,
          "input_ids: expected batch * q_len = " + std::to_string(in.batch * in.q_len) +
              " ids, got " + std::to_string(in.ids.size()));
  } else {
    Check(in.ids.empty(), "give input_ids or inputs_embeds, not both");
    Check(static_cast<int64_t>(in.inputs_embeds.size()) == in.batch * in.q_len * c.n_embd,
          "inputs_embeds: expected [batch, q_len, n_embd] = " +
              std::to_string(in.batch * in.q_len * c.n_embd) + " values, got " +
              std::to_string(in.inputs_embeds.size()));
    for (size_t i = 0; i < in.inputs_embeds.size(); ++i)
      Check(std::isfinite(in.inputs_embeds[i]),
            "inputs_embeds: value at index " + std::to_string(i) + " is not finite");
  }
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
  CheckContextRoom(p.past, in.q_len, cache.capacity());

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

void MatchCacheType(const Model& model, KvCache& cache) {
  cache.SetType(KvTypeFor(model.precision()));
}

RaggedPlan PlanRagged(const Model& model, const std::vector<SequenceStep>& steps) {
  const ModelConfig& c = model.config();
  Check(!steps.empty(), "ForwardRagged: no sequence given");
  RaggedPlan p;
  for (size_t i = 0; i < steps.size(); ++i) {
    const SequenceStep& st = steps[i];
    const std::string who = "sequence " + std::to_string(i) + ": ";
    Check(st.cache != nullptr && st.cache->batch() == 1, who + "needs its own batch-1 kv cache");
    Check(st.cache->n_embd() == c.n_embd, who + "kv cache made for a model of another width");
    try {
      MatchCacheType(model, *st.cache);
    } catch (const Error& e) {
      throw Error(who + e.what());
    }
    Check(!st.ids.empty(), who + "empty id list");
    for (int32_t id : st.ids)
      Check(id >= 0 && id < c.vocab_size, who + "token id " + std::to_string(id) +
                                              " is outside the vocabulary [0, " +
                                              std::to_string(c.vocab_size) + ")");
    const auto n = static_cast<int64_t>(st.ids.size());
    CheckContextRoom(st.cache->length(), n,
                     std::min(st.cache->capacity(), model.rope().max_positions()), who);
    for (size_t j = 0; j < i; ++j)
      Check(steps[j].cache != st.cache,
            who + "shares its kv cache with sequence " + std::to_string(j));
    Check(st.logits == LogitsFor::kAll || st.logits == LogitsFor::kLast ||
              st.logits == LogitsFor::kNone,
          who + "logits must be all, last or none");

    const int64_t first = static_cast<int64_t>(p.ids.size()), past = st.cache->length();
    p.first_row.push_back(first);
    p.q_len.push_back(n);
    p.past.push_back(past);
    p.masks.emplace_back(static_cast<size_t>(past + n), 1);
    auto& pos = p.positions.emplace_back(static_cast<size_t>(n));
    for (int64_t t = 0; t < n; ++t) pos[t] = past + t;
    p.ids.insert(p.ids.end(), st.ids.begin(), st.ids.end());
    const int64_t from = st.logits == LogitsFor::kAll    ? 0
                         : st.logits == LogitsFor::kLast ? n - 1
                                                         : n;
    for (int64_t t = from; t < n; ++t) p.logit_rows.push_back(first + t);
    p.logit_count.push_back(n - from);
  }
  return p;
}

}  // namespace talkie::model
