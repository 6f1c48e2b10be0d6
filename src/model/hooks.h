// Hook points: named intermediates of the forward pass (spec §2) that a
// caller can read (capture) or write (patch, ablate, steer) while the forward
// runs, with TransformerLens-style names:
//
//   hook_embed                       embed[ids] (or the inputs_embeds row)   [n_embd]
//   blocks.{l}.hook_resid_pre        block input; l = 0: rms(embed)          [n_embd]
//   blocks.{l}.ln1.hook_normalized   rms(x) fed to attention                 [n_embd]
//   blocks.{l}.attn.hook_q           q after RoPE, rms and head_gain         [n_head, head_dim]
//   blocks.{l}.attn.hook_k           k after RoPE and rms                    [n_head, head_dim]
//   blocks.{l}.attn.hook_v           v                                       [n_head, head_dim]
//   blocks.{l}.attn.hook_pattern     softmax weights                         [n_head, q, kv]
//   blocks.{l}.attn.hook_z           per-head output before W_o              [n_head, head_dim]
//   blocks.{l}.hook_attn_out         attn_gain * Attn(...)                   [n_embd]
//   blocks.{l}.hook_resid_mid        x after the attention branch            [n_embd]
//   blocks.{l}.ln2.hook_normalized   rms(x) fed to the MLP                   [n_embd]
//   blocks.{l}.mlp.hook_pre          W_gate h                                [intermediate]
//   blocks.{l}.mlp.hook_post         silu(W_gate h) * W_up h                 [intermediate]
//   blocks.{l}.hook_mlp_out          mlp_gain * MLP(...)                     [n_embd]
//   blocks.{l}.hook_resid_post       after the embedding skip                [n_embd]
//   ln_final.hook_normalized         rms(x) = hidden_states[n_layer]         [n_embd]
//   logits                           the rows that get logits                [vocab]
//
// A hook sees one sequence's share of its tensor per call (its new rows of
// this step), so what it sees and what it changes never depend on the batch
// it runs in; hooks run in registration order. Every forward path (padded,
// ragged / generation, server) calls them. With no hook registered, no hook
// work runs and nothing extra is computed: attention weights are kept only
// when hook_pattern is asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"

namespace talkie::model {

enum class HookPoint : uint8_t {
  kEmbed,
  kResidPre,
  kLn1Normalized,
  kQ,
  kK,
  kV,
  kPattern,
  kZ,
  kAttnOut,
  kResidMid,
  kLn2Normalized,
  kMlpPre,
  kMlpPost,
  kMlpOut,
  kResidPost,
  kLnFinal,
  kLogits,
};
inline constexpr int kHookPointCount = 17;

// Per-block points carry a layer; hook_embed, ln_final and logits do not.
bool IsPerLayer(HookPoint point);
// "hook_resid_post", "attn.hook_q", "ln_final.hook_normalized", "logits", ...
std::string_view HookPointSuffix(HookPoint point);

inline constexpr int64_t kNoLayer = -1;
inline constexpr int64_t kEveryLayer = -2;  // "blocks.*.<point>"

struct HookName {
  HookPoint point = HookPoint::kEmbed;
  int64_t layer = kNoLayer;  // kNoLayer, kEveryLayer or a block index
};
// Parses "blocks.3.hook_resid_post", "blocks.*.mlp.hook_post", "hook_embed",
// "logits", ...; throws talkie::Error naming the bad part.
HookName ParseHookName(std::string_view name);
std::string HookNameString(HookPoint point, int64_t layer);
// Every concrete hook name of a model, in forward order.
std::vector<std::string> AllHookNames(const ModelConfig& config);
// Width of one row of `point` ([n_embd], [n_head * head_dim], [intermediate],
// [vocab]); hook_pattern rows are [kv_len] and have no fixed width (returns 0).
int64_t HookRowWidth(const ModelConfig& config, HookPoint point);

// One call: one sequence's share of one hook point in one step.
struct HookCall {
  HookPoint point = HookPoint::kEmbed;
  int64_t layer = kNoLayer;
  // The batch row (Forward) or the step's sequence index (ForwardRagged).
  int64_t sequence = 0;
  // Per token row of this call (for hook_pattern, per query): its cache slot
  // (slot j = the token fed at step j, padding included) and position id.
  // For logits only the rows that get logits are present.
  std::span<const int64_t> slots;
  std::span<const int64_t> positions;
  // The tensor, row-major: [rows, width] for every point but hook_pattern,
  // which is [n_head, q_rows, kv_len] over the sequence's cache slots
  // 0 .. kv_len - 1. Write through it to patch; a write to a weight on a key
  // the query cannot see (future or padding) has no effect.
  float* data = nullptr;
  std::vector<int64_t> shape;
};

enum class HookAccess { kRead, kWrite };
using HookFn = std::function<void(const HookCall&)>;

class HookSet {
 public:
  // Registers `fn` at `name` (see ParseHookName). Throws on a bad name.
  // kRead promises the hook only reads: patterns are then not re-applied.
  // row_width > 0: fn works on rows of that width only (a steering vector);
  // Validate then checks it against the point's width for the model.
  void Add(std::string_view name, HookFn fn, HookAccess access = HookAccess::kWrite,
           int64_t row_width = 0);
  void Add(HookName name, HookFn fn, HookAccess access = HookAccess::kWrite, int64_t row_width = 0);
  // Appends other's hooks after this set's own.
  void Append(const HookSet& other);

  bool empty() const { return entries_.empty(); }
  // Throws talkie::Error if a hook names a layer the model does not have, or
  // its row width does not fit the point.
  void Validate(const ModelConfig& config) const;
  bool Wants(HookPoint point, int64_t layer) const;
  bool Writes(HookPoint point, int64_t layer) const;
  // Runs every hook registered for (call.point, call.layer), in order.
  void Run(const HookCall& call) const;

 private:
  struct Entry {
    HookName name;
    HookFn fn;
    HookAccess access;
    int64_t row_width;
    bool Matches(HookPoint point, int64_t layer) const {
      return name.point == point && (name.layer == layer || name.layer == kEveryLayer);
    }
  };
  std::vector<Entry> entries_;
};

}  // namespace talkie::model
