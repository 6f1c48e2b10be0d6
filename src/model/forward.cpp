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
// kv_cache.h, the input checks in batch_plan.cpp. Each named intermediate
// passes a hook point (hooks.h: Fire(...) below) where a caller may read or
// patch it; with no hooks registered those are no-ops.
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
  // Hooks of this sequence (null: none) and what its hook calls report.
  const HookSet* hooks = nullptr;
  int64_t index = 0;           // HookCall::sequence
  std::vector<int64_t> slots;  // [q_len] cache slots, filled when hooks is set

  bool Wants(HookPoint point, int64_t layer) const {
    return hooks != nullptr && hooks->Wants(point, layer);
  }
  HookCall Call(HookPoint point, int64_t layer) const {
    HookCall call;
    call.point = point;
    call.layer = layer;
    call.sequence = index;
    call.slots = slots;
    call.positions = {positions, static_cast<size_t>(rows.q_len)};
    return call;
  }
};

// Hook point `point` of block `layer` over buf, [rows, row_shape...]: each
// sequence with hooks there gets its own rows.
void Fire(const std::vector<SequenceSlice>& seqs, HookPoint point, int64_t layer, float* buf,
          std::initializer_list<int64_t> row_shape) {
  int64_t width = 1;
  for (int64_t d : row_shape) width *= d;
  for (const SequenceSlice& s : seqs) {
    if (!s.Wants(point, layer)) continue;
    HookCall call = s.Call(point, layer);
    call.data = buf + s.rows.first_row * width;
    call.shape = {s.rows.q_len};
    call.shape.insert(call.shape.end(), row_shape);
    s.hooks->Run(call);
  }
}

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

void Scale(Rows& y, float gain) {
  for (float& v : y) v *= gain;
}

// x += y. A branch is scaled into y first, then added (two roundings, as
// x += gain * y), so the hook in between sees exactly what is added.
void Add(Rows& x, const Rows& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
}

// x += gain * y
void AddScaled(Rows& x, float gain, const Rows& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] += gain * y[i];
}

// Self-attention of block `layer` over a.normed into a.projected; stores
// this block's K/V in each sequence's cache first. hook_pattern keeps the
// softmax weights of the sequences that ask for it; if a hook may have
// changed them, their outputs are recomputed from the weights it left.
void Attention(const Model& model, int64_t layer, std::vector<SequenceSlice>& seqs,
               Activations& a) {
  const ModelConfig& c = model.config();
  const BlockWeights& w = model.weights().blocks[layer];
  const int64_t n_embd = c.n_embd, n_head = c.n_head, head_dim = c.head_dim;

  Linear(a.normed, w.attn_query, a.q);
  Linear(a.normed, w.attn_key, a.k);
  Linear(a.normed, w.attn_value, a.v);

  // Per token and head: RoPE, then rms-norm over head_dim, gain on q only.
  for (const SequenceSlice& s : seqs) {
    for (int64_t t = 0; t < s.rows.q_len; ++t) {
      const int64_t r = s.rows.first_row + t;
      for (int64_t hd = 0; hd < n_head; ++hd) {
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
  Fire(seqs, HookPoint::kQ, layer, a.q.data(), {n_head, head_dim});
  Fire(seqs, HookPoint::kK, layer, a.k.data(), {n_head, head_dim});
  Fire(seqs, HookPoint::kV, layer, a.v.data(), {n_head, head_dim});

  // Store the new keys/values first, then attend over the cache alone, so
  // cached and fresh keys go through one code path.
  bool repattern = false;
  for (size_t i = 0; i < seqs.size(); ++i) {
    SequenceSlice& s = seqs[i];
    const int64_t first = s.rows.first_row * n_embd;
    s.cache->Write(layer, s.cache_row, s.rows.past, s.rows.q_len, &a.k[first], &a.v[first]);
    ops::AttentionSequence& view = a.attention[i];
    view = s.rows;
    view.kv = s.cache->View(layer, s.cache_row);
    view.probs = nullptr;
    if (s.Wants(HookPoint::kPattern, layer)) {
      a.patterns[i].resize(static_cast<size_t>(n_head * s.rows.q_len * s.rows.kv_len));
      view.probs = a.patterns[i].data();
      repattern = repattern || s.hooks->Writes(HookPoint::kPattern, layer);
    }
  }
  ops::AttendCausal(a.q.data(), n_head, head_dim, a.attention, a.attention_scratch,
                    a.attended.data());
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (a.attention[i].probs == nullptr) continue;
    HookCall call = seqs[i].Call(HookPoint::kPattern, layer);
    call.data = a.attention[i].probs;
    call.shape = {n_head, seqs[i].rows.q_len, seqs[i].rows.kv_len};
    seqs[i].hooks->Run(call);
  }
  if (repattern)
    ops::WeightCausal(n_head, head_dim, a.attention, a.attention_scratch, a.attended.data());
  Fire(seqs, HookPoint::kZ, layer, a.attended.data(), {n_head, head_dim});
  Linear(a.attended, w.attn_resid, a.projected);
}

// SwiGLU MLP over a.normed into a.projected: W_down(silu(W_gate h) * W_up h).
void Mlp(const ModelConfig& c, int64_t layer, const BlockWeights& w,
         const std::vector<SequenceSlice>& seqs, Activations& a) {
  Linear(a.normed, w.mlp_gate, a.gate);
  Linear(a.normed, w.mlp_linear, a.up);
  Fire(seqs, HookPoint::kMlpPre, layer, a.gate.data(), {c.intermediate_size});
  ops::SiluMul(a.gate.data(), a.up.data(), static_cast<int64_t>(a.gate.size()), a.gate.data());
  Fire(seqs, HookPoint::kMlpPost, layer, a.gate.data(), {c.intermediate_size});
  Linear(a.gate, w.mlp_resid, a.projected);
}

// The blocks over all rows of a step; leaves the final rms-normed state in
// a.normed. The hook points, in the order of spec §2, are the Fire lines.
void RunBlocks(const Model& model, const std::vector<int32_t>& ids, const float* embeds,
               int64_t rows, std::vector<SequenceSlice>& seqs, Activations& a) {
  const ModelConfig& c = model.config();
  const TalkieWeights& w = model.weights();
  const int64_t n_embd = c.n_embd, kNone = kNoLayer;
  a.Resize(c, rows);
  a.attention.resize(seqs.size());
  a.patterns.resize(seqs.size());

  if (embeds != nullptr) {
    std::copy_n(embeds, rows * n_embd, a.normed.data());
  } else {
    Embed(w, ids, a.normed.data());
  }
  Fire(seqs, HookPoint::kEmbed, kNone, a.normed.data(), {n_embd});
  RmsNorm(a.normed, n_embd, a.x);
  a.skip = a.x;  // embedding skip e, reused by every block

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const BlockWeights& block = w.blocks[l];
    Fire(seqs, HookPoint::kResidPre, l, a.x.data(), {n_embd});
    RmsNorm(a.x, n_embd, a.normed);
    Fire(seqs, HookPoint::kLn1Normalized, l, a.normed.data(), {n_embd});
    Attention(model, l, seqs, a);
    Scale(a.projected, block.attn_gain);
    Fire(seqs, HookPoint::kAttnOut, l, a.projected.data(), {n_embd});
    Add(a.x, a.projected);
    Fire(seqs, HookPoint::kResidMid, l, a.x.data(), {n_embd});
    RmsNorm(a.x, n_embd, a.normed);
    Fire(seqs, HookPoint::kLn2Normalized, l, a.normed.data(), {n_embd});
    Mlp(c, l, block, seqs, a);
    Scale(a.projected, block.mlp_gain);
    Fire(seqs, HookPoint::kMlpOut, l, a.projected.data(), {n_embd});
    Add(a.x, a.projected);
    AddScaled(a.x, block.embed_skip, a.skip);
    Fire(seqs, HookPoint::kResidPost, l, a.x.data(), {n_embd});
  }
  RmsNorm(a.x, n_embd, a.normed);
  Fire(seqs, HookPoint::kLnFinal, kNone, a.normed.data(), {n_embd});
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

// The logits hook: sequence i's rows of `logits` are next, one per entry of
// with_logits[i] (the q indices that got logits), in sequence order.
void FireLogits(const std::vector<SequenceSlice>& seqs,
                const std::vector<std::vector<int64_t>>& with_logits, int64_t vocab, Rows& logits) {
  int64_t next_row = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const SequenceSlice& s = seqs[i];
    const auto n = static_cast<int64_t>(with_logits[i].size());
    if (n > 0 && s.Wants(HookPoint::kLogits, kNoLayer)) {
      std::vector<int64_t> slots, positions;
      for (int64_t t : with_logits[i]) {
        slots.push_back(s.rows.past + t);
        positions.push_back(s.positions[t]);
      }
      HookCall call = s.Call(HookPoint::kLogits, kNoLayer);
      call.slots = slots;
      call.positions = positions;
      call.data = logits.data() + next_row * vocab;
      call.shape = {n, vocab};
      s.hooks->Run(call);
    }
    next_row += n;
  }
}

void AttachHooks(SequenceSlice& s, const HookSet* hooks, int64_t index) {
  if (hooks == nullptr || hooks->empty()) return;
  s.hooks = hooks;
  s.index = index;
  s.slots.resize(static_cast<size_t>(s.rows.q_len));
  for (int64_t t = 0; t < s.rows.q_len; ++t) s.slots[t] = s.rows.past + t;
}

// output_hidden_states / output_attentions as read hooks after the caller's
// own, filling out's [batch, q_len, n_embd] / [batch, n_head, q_len, kv_len]
// tensors from each sequence's calls.
void AddOutputHooks(const ModelConfig& c, const ForwardInput& input, ForwardOutput& out,
                    HookSet& hooks) {
  const int64_t n_embd = c.n_embd, q_len = out.q_len;
  if (input.output_hidden_states) {
    out.hidden_states.assign(static_cast<size_t>(c.n_layer + 1),
                             Rows(static_cast<size_t>(out.batch * q_len * n_embd)));
    auto into = [&out, q_len, n_embd](size_t k) {
      return [&out, q_len, n_embd, k](const HookCall& call) {
        std::copy_n(call.data, q_len * n_embd,
                    out.hidden_states[k].data() + call.sequence * q_len * n_embd);
      };
    };
    hooks.Add({HookPoint::kResidPre, 0}, into(0), HookAccess::kRead);
    for (int64_t l = 0; l + 1 < c.n_layer; ++l)
      hooks.Add({HookPoint::kResidPost, l}, into(static_cast<size_t>(l + 1)), HookAccess::kRead);
    hooks.Add({HookPoint::kLnFinal, kNoLayer}, into(static_cast<size_t>(c.n_layer)),
              HookAccess::kRead);
  }
  if (input.output_attentions) {
    const int64_t per_sequence = c.n_head * q_len * out.kv_len;
    out.attentions.assign(static_cast<size_t>(c.n_layer),
                          Rows(static_cast<size_t>(out.batch * per_sequence)));
    hooks.Add(
        {HookPoint::kPattern, kEveryLayer},
        [&out, per_sequence](const HookCall& call) {
          std::copy_n(call.data, per_sequence,
                      out.attentions[call.layer].data() + call.sequence * per_sequence);
        },
        HookAccess::kRead);
  }
}

}  // namespace

ForwardOutput Forward(const Model& model, KvCache& cache, const ForwardInput& input) {
  const BatchPlan plan = PlanBatch(model, cache, input);  // validates everything first
  const ModelConfig& c = model.config();
  if (input.hooks) input.hooks->Validate(c);
  MatchCacheType(model, cache);
  cache.Grow(plan.q_len);

  ForwardOutput out;
  out.batch = plan.batch;
  out.q_len = plan.q_len;
  out.kv_len = plan.kv_len;
  out.position_ids = plan.positions;
  out.logit_positions = plan.logit_positions;
  HookSet with_outputs;
  const HookSet* hooks = input.hooks;
  if (input.output_hidden_states || input.output_attentions) {
    if (input.hooks) with_outputs.Append(*input.hooks);
    AddOutputHooks(c, input, out, with_outputs);
    hooks = &with_outputs;
  }

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
    AttachHooks(s, hooks, b);
  }

  Activations a;
  const float* embeds = input.inputs_embeds.empty() ? nullptr : input.inputs_embeds.data();
  RunBlocks(model, input.ids, embeds, plan.batch * plan.q_len, seqs, a);
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < plan.batch; ++b)
    for (int64_t t : plan.logit_positions) rows.push_back(b * plan.q_len + t);
  out.logits = Logits(model, a, rows);
  if (hooks)
    FireLogits(seqs, std::vector<std::vector<int64_t>>(seqs.size(), plan.logit_positions),
               c.vocab_size, out.logits);
  return out;
}

std::vector<std::vector<float>> ForwardRagged(const Model& model,
                                              const std::vector<SequenceStep>& steps) {
  const RaggedPlan plan = PlanRagged(model, steps);  // validates everything first
  bool any_hooks = false;
  for (const SequenceStep& st : steps)
    if (st.hooks) {
      st.hooks->Validate(model.config());
      any_hooks = true;
    }
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
    AttachHooks(s, steps[i].hooks,
                steps[i].sequence_id >= 0 ? steps[i].sequence_id : static_cast<int64_t>(i));
  }
  for (const SequenceStep& st : steps) st.cache->Grow(static_cast<int64_t>(st.ids.size()));
  Activations a;
  RunBlocks(model, plan.ids, nullptr, static_cast<int64_t>(plan.ids.size()), seqs, a);
  Rows logits = Logits(model, a, plan.logit_rows);
  const int64_t vocab = model.config().vocab_size;
  if (any_hooks) {
    std::vector<std::vector<int64_t>> with_logits(steps.size());
    for (size_t i = 0; i < steps.size(); ++i)
      for (int64_t k = 0; k < plan.logit_count[i]; ++k)
        with_logits[i].push_back(plan.q_len[i] - plan.logit_count[i] + k);
    FireLogits(seqs, with_logits, vocab, logits);
  }
  std::vector<std::vector<float>> out(steps.size());
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
