// The Talkie forward pass, written in the order of spec §2:
//
//   x = rms(embed[ids]);  e = x
//   per block:  x += attn_gain * Attn(rms(x))
//               x += mlp_gain  * MLP(rms(x))
//               x += embed_skip * e
//   logits = rms(x) @ (lm_head_gain * lm_head)^T
//
// Attn: q,k,v = h Wq^T, h Wk^T, h Wv^T; RoPE(q, k); rms(q), rms(k) per head
// (after RoPE); q *= head_gain; softmax(q k^T / sqrt(head_dim)) v; then Wo.
// Activations are float32 rows [batch * q_len, n_embd]; kernels live in ops/.
#include "model/forward.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "io/tensor.h"
#include "model/batch_plan.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/parallel.h"

namespace talkie::model {
namespace {

using Rows = std::vector<float>;

Rows Embed(const TalkieWeights& w, const std::vector<int32_t>& ids) {
  Rows x(ids.size() * static_cast<size_t>(w.embed.cols));
  for (size_t r = 0; r < ids.size(); ++r)
    ops::WeightRowToFloat(w.embed, ids[r], &x[r * w.embed.cols]);
  return x;
}

Rows RmsNorm(const Rows& x, int64_t n) {
  Rows y(x.size());
  ops::RmsNormRows(x.data(), static_cast<int64_t>(x.size()) / n, n, y.data());
  return y;
}

Rows Linear(const Rows& x, const ops::WeightMatrix& w) {
  const int64_t m = static_cast<int64_t>(x.size()) / w.cols;
  Rows y(static_cast<size_t>(m * w.rows));
  ops::MatMul(x.data(), m, w, y.data());
  return y;
}

// The cache stores K/V as the model's policy wants (fast: bf16); a cache
// still holding tokens of the other type is refused by SetType.
void MatchCacheType(const Model& model, KvCache& cache) {
  cache.SetType(model.precision() == ops::Precision::kFast ? KvType::kBF16 : KvType::kF32);
}

// x += gain * y
void AddScaled(Rows& x, float gain, const Rows& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] += gain * y[i];
}

// One sequence's share of a forward step: its rows of the activation matrix
// and where its keys/values, mask and positions live.
struct SequenceSlice {
  KvCache* cache = nullptr;
  int64_t cache_row = 0;
  int64_t first_row = 0;  // in the [rows, n_embd] activations
  int64_t q_len = 0, past = 0, kv_len = 0;
  const uint8_t* mask = nullptr;       // [kv_len], 1 = real
  const int64_t* positions = nullptr;  // [q_len]
  int64_t attention_offset = 0;        // of its [n_head, q_len, kv_len] block
};

// Self-attention of one block over the new rows `h`; appends this block's
// K/V to each sequence's cache and optionally records the softmax weights.
Rows Attention(const Model& model, int64_t layer, const Rows& h,
               const std::vector<SequenceSlice>& seqs, std::vector<float>* attention_out) {
  const ModelConfig& c = model.config();
  const BlockWeights& w = model.weights().blocks[layer];
  const int64_t n_embd = c.n_embd, head_dim = c.head_dim;

  Rows q = Linear(h, w.attn_query);
  Rows k = Linear(h, w.attn_key);
  Rows v = Linear(h, w.attn_value);

  // Per token and head: RoPE, then rms-norm over head_dim, gain on q only.
  for (const SequenceSlice& s : seqs) {
    for (int64_t t = 0; t < s.q_len; ++t) {
      const int64_t r = s.first_row + t;
      for (int64_t hd = 0; hd < c.n_head; ++hd) {
        float* qh = &q[r * n_embd + hd * head_dim];
        float* kh = &k[r * n_embd + hd * head_dim];
        model.rope().Apply(qh, s.positions[t]);
        model.rope().Apply(kh, s.positions[t]);
        ops::RmsNormRows(qh, 1, head_dim, qh);
        ops::RmsNormRows(kh, 1, head_dim, kh);
        for (int64_t d = 0; d < head_dim; ++d) qh[d] *= w.head_gain[hd];
      }
    }
  }

  // Write the new keys/values first, then attend over the cache alone, so
  // cached and fresh keys go through one code path.
  // A bf16 cache (fast policy) rounds each element as it is stored.
  for (const SequenceSlice& s : seqs) {
    const size_t first = s.first_row * n_embd, n = s.q_len * n_embd, at = s.past * n_embd;
    if (s.cache->type() == KvType::kF32) {
      std::copy_n(&k[first], n, s.cache->keys(layer, s.cache_row) + at);
      std::copy_n(&v[first], n, s.cache->values(layer, s.cache_row) + at);
    } else {
      uint16_t* kc = s.cache->keys_bf16(layer, s.cache_row) + at;
      uint16_t* vc = s.cache->values_bf16(layer, s.cache_row) + at;
      for (size_t i = 0; i < n; ++i) {
        kc[i] = io::FloatToBf16(k[first + i]);
        vc[i] = io::FloatToBf16(v[first + i]);
      }
    }
  }

  // One task per (sequence, head, query); a query in cache slot past + t sees
  // the real keys in slots <= past + t.
  struct Task {
    const SequenceSlice* seq;
    int64_t head, t;
  };
  std::vector<Task> tasks;
  int64_t max_kv = 0;
  for (const SequenceSlice& s : seqs) {
    max_kv = std::max(max_kv, s.kv_len);
    for (int64_t hd = 0; hd < c.n_head; ++hd)
      for (int64_t t = 0; t < s.q_len; ++t) tasks.push_back({&s, hd, t});
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  Rows y(h.size());
#pragma omp parallel num_threads(ops::NumThreads())
  {
    std::vector<uint8_t> visible(static_cast<size_t>(max_kv));
    std::vector<float> probs(static_cast<size_t>(max_kv));
#pragma omp for schedule(static)
    for (size_t i = 0; i < tasks.size(); ++i) {
      const SequenceSlice& s = *tasks[i].seq;
      const int64_t hd = tasks[i].head, t = tasks[i].t;
      for (int64_t j = 0; j < s.kv_len; ++j) visible[j] = j <= s.past + t && s.mask[j] != 0;
      const int64_t row = s.first_row + t;
      const float* qh = &q[row * n_embd + hd * head_dim];
      float* out = &y[row * n_embd + hd * head_dim];
      const int64_t col = hd * head_dim;
      if (s.cache->type() == KvType::kF32)
        ops::AttendOneQuery(qh, s.cache->keys(layer, s.cache_row) + col,
                            s.cache->values(layer, s.cache_row) + col, n_embd, s.kv_len, head_dim,
                            visible.data(), scale, probs.data(), out);
      else
        ops::AttendOneQueryBf16(qh, s.cache->keys_bf16(layer, s.cache_row) + col,
                                s.cache->values_bf16(layer, s.cache_row) + col, n_embd, s.kv_len,
                                head_dim, visible.data(), scale, probs.data(), out);
      if (attention_out) {
        std::copy_n(probs.begin(), s.kv_len,
                    attention_out->begin() + s.attention_offset + (hd * s.q_len + t) * s.kv_len);
      }
    }
  }
  return Linear(y, w.attn_resid);
}

// SwiGLU MLP: W_down(silu(W_gate h) * W_up h).
Rows Mlp(const BlockWeights& w, const Rows& h) {
  Rows gate = Linear(h, w.mlp_gate);
  Rows up = Linear(h, w.mlp_linear);
  ops::SiluMul(gate.data(), up.data(), static_cast<int64_t>(gate.size()), gate.data());
  return Linear(gate, w.mlp_resid);
}

// The blocks over all rows of a step: returns the final rms-normed state and
// fills the optional hidden states ([rows, n_embd] each) and attentions.
Rows RunBlocks(const Model& model, const std::vector<int32_t>& ids,
               const std::vector<SequenceSlice>& seqs,
               std::vector<std::vector<float>>* hidden_states,
               std::vector<std::vector<float>>* attentions, int64_t attention_size) {
  const ModelConfig& c = model.config();
  const TalkieWeights& w = model.weights();
  const int64_t n_embd = c.n_embd;

  Rows x = RmsNorm(Embed(w, ids), n_embd);
  const Rows e = x;  // embedding skip, reused by every block
  if (hidden_states) hidden_states->push_back(x);

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const BlockWeights& block = w.blocks[l];
    std::vector<float>* attn_record = nullptr;
    if (attentions) attn_record = &attentions->emplace_back(static_cast<size_t>(attention_size));
    AddScaled(x, block.attn_gain, Attention(model, l, RmsNorm(x, n_embd), seqs, attn_record));
    AddScaled(x, block.mlp_gain, Mlp(block, RmsNorm(x, n_embd)));
    AddScaled(x, block.embed_skip, e);
    if (hidden_states && l + 1 < c.n_layer) hidden_states->push_back(x);
  }
  x = RmsNorm(x, n_embd);
  if (hidden_states) hidden_states->push_back(x);
  return x;
}

// lm_head over the chosen rows of the final state.
Rows Logits(const Model& model, const Rows& x, const std::vector<int64_t>& rows) {
  const int64_t n_embd = model.config().n_embd;
  if (rows.empty()) return {};
  Rows selected(rows.size() * static_cast<size_t>(n_embd));
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(&x[rows[i] * n_embd], n_embd, &selected[i * n_embd]);
  return Linear(selected, model.weights().lm_head);
}

}  // namespace

ForwardOutput Forward(const Model& model, KvCache& cache, const ForwardInput& input) {
  const BatchPlan plan = PlanBatch(model, cache, input);  // validates everything first
  MatchCacheType(model, cache);
  const ModelConfig& c = model.config();
  cache.Grow(plan.q_len);

  std::vector<SequenceSlice> seqs(static_cast<size_t>(plan.batch));
  for (int64_t b = 0; b < plan.batch; ++b) {
    SequenceSlice& s = seqs[b];
    s.cache = &cache;
    s.cache_row = b;
    s.first_row = b * plan.q_len;
    s.q_len = plan.q_len;
    s.past = plan.past;
    s.kv_len = plan.kv_len;
    s.mask = &plan.mask[b * plan.kv_len];
    s.positions = &plan.positions[b * plan.q_len];
    s.attention_offset = b * c.n_head * plan.q_len * plan.kv_len;  // [batch, n_head, q_len, kv_len]
  }

  ForwardOutput out;
  out.batch = plan.batch;
  out.q_len = plan.q_len;
  out.kv_len = plan.kv_len;
  out.position_ids = plan.positions;
  out.logit_positions = plan.logit_positions;
  const Rows x =
      RunBlocks(model, input.ids, seqs, input.output_hidden_states ? &out.hidden_states : nullptr,
                input.output_attentions ? &out.attentions : nullptr,
                plan.batch * c.n_head * plan.q_len * plan.kv_len);
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < plan.batch; ++b)
    for (int64_t t : plan.logit_positions) rows.push_back(b * plan.q_len + t);
  out.logits = Logits(model, x, rows);
  return out;
}

std::vector<std::vector<float>> ForwardRagged(const Model& model,
                                              const std::vector<SequenceStep>& steps) {
  const ModelConfig& c = model.config();
  Check(!steps.empty(), "ForwardRagged: no sequence given");
  // Validate everything before touching any cache.
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
    const int64_t kv_len = st.cache->length() + static_cast<int64_t>(st.ids.size());
    if (kv_len > st.cache->capacity() || kv_len > model.rope().max_positions())
      throw Error(who + "context full: " + std::to_string(st.cache->length()) + " cached + " +
                  std::to_string(st.ids.size()) + " new tokens exceed the context limit of " +
                  std::to_string(std::min(st.cache->capacity(), model.rope().max_positions())));
    for (size_t j = 0; j < i; ++j)
      Check(steps[j].cache != st.cache,
            who + "shares its kv cache with sequence " + std::to_string(j));
  }
  // Per-sequence caches hold no padding: every key is real and positions
  // continue from the cache length.
  std::vector<SequenceSlice> seqs(steps.size());
  std::vector<std::vector<uint8_t>> masks(steps.size());
  std::vector<std::vector<int64_t>> positions(steps.size());
  std::vector<int32_t> ids;
  std::vector<int64_t> logit_rows;
  for (size_t i = 0; i < steps.size(); ++i) {
    const SequenceStep& st = steps[i];
    SequenceSlice& s = seqs[i];
    s.cache = st.cache;
    s.first_row = static_cast<int64_t>(ids.size());
    s.q_len = static_cast<int64_t>(st.ids.size());
    s.past = st.cache->length();
    s.kv_len = s.past + s.q_len;
    masks[i].assign(static_cast<size_t>(s.kv_len), 1);
    for (int64_t t = 0; t < s.q_len; ++t) positions[i].push_back(s.past + t);
    s.mask = masks[i].data();
    s.positions = positions[i].data();
    ids.insert(ids.end(), st.ids.begin(), st.ids.end());
    if (st.logits == LogitsFor::kAll)
      for (int64_t t = 0; t < s.q_len; ++t) logit_rows.push_back(s.first_row + t);
    else if (st.logits == LogitsFor::kLast)
      logit_rows.push_back(s.first_row + s.q_len - 1);
    else
      Check(st.logits == LogitsFor::kNone,
            "sequence " + std::to_string(i) + ": logits must be all, last or none");
  }
  for (const SequenceStep& st : steps) st.cache->Grow(static_cast<int64_t>(st.ids.size()));
  const Rows x = RunBlocks(model, ids, seqs, nullptr, nullptr, 0);
  const Rows logits = Logits(model, x, logit_rows);
  std::vector<std::vector<float>> out(steps.size());
  const int64_t vocab = c.vocab_size;
  size_t next = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t n = steps[i].logits == LogitsFor::kAll    ? seqs[i].q_len
                      : steps[i].logits == LogitsFor::kLast ? 1
                                                            : 0;
    out[i].assign(logits.begin() + static_cast<int64_t>(next) * vocab,
                  logits.begin() + static_cast<int64_t>(next + n) * vocab);
    next += static_cast<size_t>(n);
  }
  return out;
}

ForwardOutput ForwardSequence(const Model& model, const std::vector<int32_t>& ids,
                              bool output_hidden_states, bool output_attentions) {
  KvCache cache(model.config(), 1);
  ForwardInput in;
  in.batch = 1;
  in.q_len = static_cast<int64_t>(ids.size());
  in.ids = ids;
  in.output_hidden_states = output_hidden_states;
  in.output_attentions = output_attentions;
  return Forward(model, cache, in);
}

}  // namespace talkie::model
