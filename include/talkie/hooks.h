// Hook points: read (capture) or write (patch, ablate, steer) any named
// intermediate of the forward pass while it runs, with TransformerLens-style
// names (docs/interpretability.md lists each with its shape and spec line):
//
//   hook_embed, blocks.{l}.hook_resid_pre, blocks.{l}.ln1.hook_normalized,
//   blocks.{l}.attn.hook_q / hook_k / hook_v / hook_pattern / hook_z,
//   blocks.{l}.hook_attn_out, blocks.{l}.hook_resid_mid,
//   blocks.{l}.ln2.hook_normalized, blocks.{l}.mlp.hook_pre / hook_post,
//   blocks.{l}.hook_mlp_out, blocks.{l}.hook_resid_post,
//   ln_final.hook_normalized, logits          ("blocks.*.<point>": every block)
//
//   talkie::Hooks hooks;
//   hooks.Add("blocks.3.hook_resid_post", [](const talkie::HookEvent& e) {
//     for (size_t i = 0; i < e.size(); ++i) e.data[i] *= 0.5f;    // patch in place
//   });
//   request.hooks = &hooks;  // ForwardRequest, or GenerateOptions
//
// A hook sees one sequence's new rows of one step per call, so what it sees
// and what it changes never depend on the batch it runs in: every bitwise
// guarantee of the contract (cache, chunking, padding, batch, threads) holds
// with hooks registered, and writing back the value a hook was given changes
// no bit. Hooks run on the calling thread, in registration order; a Hooks
// object must outlive the calls that use it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "talkie/export.h"

namespace talkie {

namespace model {
class HookSet;
}  // namespace model

struct ModelConfig;

// One call: one sequence's share of one hook point in one step.
struct TALKIE_API HookEvent {
  std::string name;    // the concrete name, e.g. "blocks.3.hook_resid_post"
  int64_t layer = -1;  // the block, or -1 for hook_embed, ln_final, logits
  // The batch row (Model::Forward) or the prompt's index (Generate).
  int64_t sequence = 0;
  // Per token row (for hook_pattern, per query row): its cache slot (slot j
  // holds the token fed at step j of that sequence, left padding included)
  // and its position id. For logits, only the rows that get logits.
  std::span<const int64_t> slots;
  std::span<const int64_t> positions;
  // Row-major and writable: [rows, width] ([rows, n_head, head_dim] for
  // q / k / v / z); hook_pattern is [n_head, q_rows, kv_len] over the
  // sequence's cache slots (a weight on a key the query cannot see is ignored).
  float* data = nullptr;
  std::vector<int64_t> shape;
  size_t size() const;
};

using HookFunction = std::function<void(const HookEvent&)>;

class TALKIE_API Hooks {
 public:
  Hooks();
  ~Hooks();
  Hooks(const Hooks&);
  Hooks& operator=(const Hooks&);
  Hooks(Hooks&&) noexcept;
  Hooks& operator=(Hooks&&) noexcept;

  // Calls fn at `name` ("blocks.*.<point>" for every block). Throws Error on
  // a bad name; a block the model lacks is an error when the forward starts.
  // read_only: fn promises not to write, so a read of hook_pattern costs no
  // re-weighting of the values.
  Hooks& Add(const std::string& name, HookFunction fn, bool read_only = false);
  // Steering: adds scale * vector ([width] of that point) to every row.
  Hooks& AddVector(const std::string& name, std::vector<float> vector, float scale = 1.0f);
  // Directional ablation at one point: x -= (x . d) d for every row, with d
  // the unit vector along `direction` ([width]).
  Hooks& ProjectOut(const std::string& name, std::vector<float> direction);
  // A control vector from a file: llama.cpp's control-vector GGUF or
  // safetensors with tensors direction.N; direction.N (times scale) is added
  // at blocks.N.hook_resid_post for blocks first..last (inclusive; -1: from
  // the first / to the last). Throws Error naming the file for a bad one.
  Hooks& AddControlVector(const std::string& path, float scale = 1.0f, int64_t first_block = -1,
                          int64_t last_block = -1);
  // Directional ablation of the whole residual stream: ProjectOut at
  // blocks.0.hook_resid_pre and at every block's hook_resid_mid and hook_resid_post.
  Hooks& AblateDirection(std::vector<float> direction);

  bool empty() const;

  // Every hook name of a model, in forward order.
  static std::vector<std::string> Names(const ModelConfig& config);
  // The concrete names `name` stands for in a model of `config`: every
  // block's for "blocks.*.<point>", else `name` itself. Error for a bad name
  // or a block the model lacks ("<name>: layer N is out of range; ...").
  static std::vector<std::string> Expand(const std::string& name, const ModelConfig& config);
  // Floats per row at hook `name` (HookEvent::data is [rows, width]):
  // n_embd, intermediate_size (mlp.hook_pre / hook_post) or vocab_size
  // (logits); 0 for hook_pattern, whose rows span the keys. Error for a bad name.
  static int64_t RowWidth(const std::string& name, const ModelConfig& config);

 private:
  friend struct ModelAccess;
  std::shared_ptr<model::HookSet> impl_;
};

}  // namespace talkie
