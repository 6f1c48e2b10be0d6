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
// Activations are float32 rows [rows, n_embd] in one arena per step
// (activations.h); the kernels, threads and cache layout live in ops/ and
// kv_cache.h, the input checks in batch_plan.cpp.
#include "model/forward.h"

#include <algorithm>

#include "model/activations.h"
#include "model/batch_plan.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/matmul.h"
#include "ops/norm.h"

namespace talkie::model {
namespace {

using Rows = std::vector<float>;

// One sequence's share of a step: where its keys/values and positions live,
// and its attention rows (first_row, q_len, past, kv_len, mask).
struct SequenceSlice {
  KvCache* cache = nullptr;
  int64_t cache_row = 0;
  const int64_t* positions = nullptr;  // [q_len]
  ops::AttentionSequence rows;         // .kv is set per layer
  int64_t attention_offset = 0;        // of its [n_head, q_len, kv_len] block
};

void Embed(const TalkieWeights& w, const std::vector<int32_t>& ids, float* x) {
  for (size_t r = 0; r < ids.size(); ++r)
    ops::WeightRowToFloat(w.embed, ids[r], x + r * w.embed.cols);
}

void RmsNorm(const Rows& x, int64_t n, Rows& y) {
  ops::RmsNormRows(x.data(), static_cast<int64_t>(x.size()) / n, n, y.data());
}

void Linear(const Rows& x, const ops::WeightMatrix& w, Rows& y) {
  ops::MatMul(x.data(), static_cast<int64_t>(x.size()) / w.cols, w, y.data());
}

// x += gain * y
void AddScaled(Rows& x, float gain, const Rows& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] += gain * y[i];
}

// Self-attention of block `layer` over a.normed into a.projected; stores
// this block's K/V in each sequence's cache first and optionally records
// the softmax weights.
void Attention(const Model& model, int64_t layer, std::vector<SequenceSlice>& seqs, Activations& a,
               float* attention_out) {
  const ModelConfig& c = model.config();
  const BlockWeights& w = model.weights().blocks[layer];
  const int64_t n_embd = c.n_embd, head_dim = c.head_dim;

  Linear(a.normed, w.attn_query, a.q);
  Linear(a.normed, w.attn_key, a.k);
  Linear(a.normed, w.attn_value, a.v);

  // Per token and head: RoPE, then rms-norm over head_dim, gain on q only.
  for (const SequenceSlice& s : seqs) {
    for (int64_t t = 0; t < s.rows.q_len; ++t) {
      const int64_t r = s.rows.first_row + t;
      for (int64_t hd = 0; hd < c.n_head; ++hd) {
        float* qh = &a.q[r * n_embd + hd * head_dim];
        float* kh = &a.k[r * n_embd + hd * head_dim];
        model.rope().Apply(qh, s.positions[t]);
        model.rope().Apply(kh, s.positions[t]);
        ops::RmsNormRows(qh, 1, head_dim, qh);
        ops::RmsNormRows(kh, 1, head_dim, kh);
        for (int64_t d = 0; d < head_dim; ++d) qh[d] *= w.head_gain[hd];
      }
    }
  }

  // Store the new keys/values first, then attend over the cache alone, so
  // cached and fresh keys go through one code path.
  for (size_t i = 0; i < seqs.size(); ++i) {
    SequenceSlice& s = seqs[i];
    const int64_t first = s.rows.first_row * n_embd;
    s.cache->Write(layer, s.cache_row, s.rows.past, s.rows.q_len, &a.k[first], &a.v[first]);
    ops::AttentionSequence& view = a.attention[i];
    view = s.rows;
    view.kv = s.cache->View(layer, s.cache_row);
    view.probs = attention_out ? attention_out + s.attention_offset : nullptr;
  }
  ops::AttendCausal(a.q.data(), c.n_head, head_dim, a.attention, a.attention_scratch,
                    a.attended.data());
  Linear(a.attended, w.attn_resid, a.projected);
}

// SwiGLU MLP over a.normed into a.projected: W_down(silu(W_gate h) * W_up h).
void Mlp(const BlockWeights& w, Activations& a) {
  Linear(a.normed, w.mlp_gate, a.gate);
  Linear(a.normed, w.mlp_linear, a.up);
  ops::SiluMul(a.gate.data(), a.up.data(), static_cast<int64_t>(a.gate.size()), a.gate.data());
  Linear(a.gate, w.mlp_resid, a.projected);
}

// The blocks over all rows of a step; leaves the final rms-normed state in
// a.normed and fills the optional hidden states ([rows, n_embd] each) and
// attentions (attention_size floats per layer).
void RunBlocks(const Model& model, const std::vector<int32_t>& ids, const float* embeds,
               int64_t rows, std::vector<SequenceSlice>& seqs, Activations& a,
               std::vector<std::vector<float>>* hidden_states,
               std::vector<std::vector<float>>* attentions, int64_t attention_size) {
  const ModelConfig& c = model.config();
  const TalkieWeights& w = model.weights();
  const int64_t n_embd = c.n_embd;
  a.Resize(c, rows);
  a.attention.resize(seqs.size());

  if (embeds != nullptr) {
    std::copy_n(embeds, rows * n_embd, a.normed.data());
  } else {
    Embed(w, ids, a.normed.data());
  }
  RmsNorm(a.normed, n_embd, a.x);
  a.skip = a.x;  // embedding skip e, reused by every block
  if (hidden_states) hidden_states->push_back(a.x);

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const BlockWeights& block = w.blocks[l];
    float* attn_record = nullptr;
    if (attentions)
      attn_record = attentions->emplace_back(static_cast<size_t>(attention_size)).data();
    RmsNorm(a.x, n_embd, a.normed);
    Attention(model, l, seqs, a, attn_record);
    AddScaled(a.x, block.attn_gain, a.projected);
    RmsNorm(a.x, n_embd, a.normed);
    Mlp(block, a);
    AddScaled(a.x, block.mlp_gain, a.projected);
    AddScaled(a.x, block.embed_skip, a.skip);
    if (hidden_states && l + 1 < c.n_layer) hidden_states->push_back(a.x);
  }
  RmsNorm(a.x, n_embd, a.normed);
  if (hidden_states) hidden_states->push_back(a.normed);
}

// lm_head over the chosen rows of the final state a.normed (a.x, no longer
// needed, holds the selected rows).
Rows Logits(const Model& model, Activations& a, const std::vector<int64_t>& rows) {
  const int64_t n_embd = model.config().n_embd;
  if (rows.empty()) return {};
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(&a.normed[rows[i] * n_embd], n_embd, &a.x[i * n_embd]);
  const ops::WeightMatrix& lm_head = model.weights().lm_head;
  Rows logits(rows.size() * static_cast<size_t>(lm_head.rows));
  ops::MatMul(a.x.data(), static_cast<int64_t>(rows.size()), lm_head, logits.data());
  return logits;
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
    s.positions = &plan.positions[b * plan.q_len];
    s.rows.first_row = b * plan.q_len;
    s.rows.q_len = plan.q_len;
    s.rows.past = plan.past;
    s.rows.kv_len = plan.kv_len;
    s.rows.mask = &plan.mask[b * plan.kv_len];
    s.attention_offset = b * c.n_head * plan.q_len * plan.kv_len;  // [batch, n_head, q_len, kv_len]
  }

  ForwardOutput out;
  out.batch = plan.batch;
  out.q_len = plan.q_len;
  out.kv_len = plan.kv_len;
  out.position_ids = plan.positions;
  out.logit_positions = plan.logit_positions;
  Activations a;
  const float* embeds = input.inputs_embeds.empty() ? nullptr : input.inputs_embeds.data();
  RunBlocks(model, input.ids, embeds, plan.batch * plan.q_len, seqs, a,
            input.output_hidden_states ? &out.hidden_states : nullptr,
            input.output_attentions ? &out.attentions : nullptr,
            plan.batch * c.n_head * plan.q_len * plan.kv_len);
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < plan.batch; ++b)
    for (int64_t t : plan.logit_positions) rows.push_back(b * plan.q_len + t);
  out.logits = Logits(model, a, rows);
  return out;
}

std::vector<std::vector<float>> ForwardRagged(const Model& model,
                                              const std::vector<SequenceStep>& steps) {
  const RaggedPlan plan = PlanRagged(model, steps);  // validates everything first
  std::vector<SequenceSlice> seqs(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    SequenceSlice& s = seqs[i];
    s.cache = steps[i].cache;
    s.positions = plan.positions[i].data();
    s.rows.first_row = plan.first_row[i];
    s.rows.q_len = plan.q_len[i];
    s.rows.past = plan.past[i];
    s.rows.kv_len = plan.past[i] + plan.q_len[i];
    s.rows.mask = plan.masks[i].data();
  }
  for (const SequenceStep& st : steps) st.cache->Grow(static_cast<int64_t>(st.ids.size()));
  Activations a;
  RunBlocks(model, plan.ids, nullptr, static_cast<int64_t>(plan.ids.size()), seqs, a, nullptr,
            nullptr, 0);
  const Rows logits = Logits(model, a, plan.logit_rows);
  std::vector<std::vector<float>> out(steps.size());
  const int64_t vocab = model.config().vocab_size;
  int64_t next = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    out[i].assign(logits.begin() + next * vocab,
                  logits.begin() + (next + plan.logit_count[i]) * vocab);
    next += plan.logit_count[i];
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
