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
  for (size_t r = 0; r < ids.size(); ++r) ops::WeightRowToFloat(w.embed, ids[r], &x[r * w.embed.cols]);
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

// x += gain * y
void AddScaled(Rows& x, float gain, const Rows& y) {
  for (size_t i = 0; i < x.size(); ++i) x[i] += gain * y[i];
}

// Self-attention of one block over the new rows `h`; appends this block's
// K/V to the cache and optionally records the softmax weights.
Rows Attention(const Model& model, int64_t layer, const Rows& h, const BatchPlan& plan,
               KvCache& cache, std::vector<float>* attention_out) {
  const ModelConfig& c = model.config();
  const BlockWeights& w = model.weights().blocks[layer];
  const int64_t n_embd = c.n_embd, head_dim = c.head_dim;

  Rows q = Linear(h, w.attn_query);
  Rows k = Linear(h, w.attn_key);
  Rows v = Linear(h, w.attn_value);

  // Per token and head: RoPE, then rms-norm over head_dim, gain on q only.
  for (int64_t r = 0; r < plan.batch * plan.q_len; ++r) {
    const int64_t pos = plan.positions[r];
    for (int64_t hd = 0; hd < c.n_head; ++hd) {
      float* qh = &q[r * n_embd + hd * head_dim];
      float* kh = &k[r * n_embd + hd * head_dim];
      model.rope().Apply(qh, pos);
      model.rope().Apply(kh, pos);
      ops::RmsNormRows(qh, 1, head_dim, qh);
      ops::RmsNormRows(kh, 1, head_dim, kh);
      for (int64_t d = 0; d < head_dim; ++d) qh[d] *= w.head_gain[hd];
    }
  }

  // Write the new keys/values first, then attend over the cache alone, so
  // cached and fresh keys go through one code path.
  for (int64_t b = 0; b < plan.batch; ++b) {
    float* kc = cache.keys(layer, b) + plan.past * n_embd;
    float* vc = cache.values(layer, b) + plan.past * n_embd;
    std::copy_n(&k[b * plan.q_len * n_embd], plan.q_len * n_embd, kc);
    std::copy_n(&v[b * plan.q_len * n_embd], plan.q_len * n_embd, vc);
  }

  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  Rows y(h.size());
  const int64_t tasks = plan.batch * c.n_head * plan.q_len;
#pragma omp parallel num_threads(ops::NumThreads())
  {
    std::vector<uint8_t> visible(static_cast<size_t>(plan.kv_len));
    std::vector<float> probs(static_cast<size_t>(plan.kv_len));
#pragma omp for schedule(static)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t t = task % plan.q_len;
      const int64_t hd = (task / plan.q_len) % c.n_head;
      const int64_t b = task / (plan.q_len * c.n_head);
      for (int64_t j = 0; j < plan.kv_len; ++j) visible[j] = plan.Visible(b, t, j);
      const int64_t row = b * plan.q_len + t;
      ops::AttendOneQuery(&q[row * n_embd + hd * head_dim], cache.keys(layer, b) + hd * head_dim,
                          cache.values(layer, b) + hd * head_dim, n_embd, plan.kv_len, head_dim,
                          visible.data(), scale, probs.data(), &y[row * n_embd + hd * head_dim]);
      if (attention_out) {
        // [batch, n_head, q_len, kv_len]
        std::copy(probs.begin(), probs.end(),
                  attention_out->begin() + ((b * c.n_head + hd) * plan.q_len + t) * plan.kv_len);
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

}  // namespace

ForwardOutput Forward(const Model& model, KvCache& cache, const ForwardInput& input) {
  const BatchPlan plan = PlanBatch(model, cache, input);  // validates everything first
  const ModelConfig& c = model.config();
  const TalkieWeights& w = model.weights();
  const int64_t n_embd = c.n_embd;
  cache.Grow(plan.q_len);

  ForwardOutput out;
  out.batch = plan.batch;
  out.q_len = plan.q_len;
  out.kv_len = plan.kv_len;
  out.position_ids = plan.positions;
  out.logit_positions = plan.logit_positions;

  Rows x = RmsNorm(Embed(w, input.ids), n_embd);
  const Rows e = x;  // embedding skip, reused by every block
  if (input.output_hidden_states) out.hidden_states.push_back(x);

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const BlockWeights& block = w.blocks[l];
    std::vector<float>* attn_record = nullptr;
    if (input.output_attentions) {
      out.attentions.emplace_back(static_cast<size_t>(plan.batch * c.n_head * plan.q_len * plan.kv_len));
      attn_record = &out.attentions.back();
    }
    AddScaled(x, block.attn_gain, Attention(model, l, RmsNorm(x, n_embd), plan, cache, attn_record));
    AddScaled(x, block.mlp_gain, Mlp(block, RmsNorm(x, n_embd)));
    AddScaled(x, block.embed_skip, e);
    if (input.output_hidden_states && l + 1 < c.n_layer) out.hidden_states.push_back(x);
  }
  x = RmsNorm(x, n_embd);
  if (input.output_hidden_states) out.hidden_states.push_back(x);

  if (!plan.logit_positions.empty()) {
    const auto n_pos = static_cast<int64_t>(plan.logit_positions.size());
    Rows selected(static_cast<size_t>(plan.batch * n_pos * n_embd));
    for (int64_t b = 0; b < plan.batch; ++b)
      for (int64_t i = 0; i < n_pos; ++i)
        std::copy_n(&x[(b * plan.q_len + plan.logit_positions[i]) * n_embd], n_embd,
                    &selected[(b * n_pos + i) * n_embd]);
    out.logits = Linear(selected, w.lm_head);
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
