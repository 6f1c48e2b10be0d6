// Loading a Talkie model and running its forward pass with the whole
// inference contract: batches, attention masks, position ids, a KV cache that
// can be truncated, copied and reused, hidden states and attention maps.
//
//   talkie::Model model = talkie::Model::Load("path/to/model");   // "" = bundled model
//   talkie::ForwardRequest req;
//   req.input_ids = talkie::Tensor<int32_t>({1, 3}, {464, 3290, 318});
//   talkie::ForwardResult out = model.Forward(req);  // out.logits: [1, 3, vocab]
//
// Guarantee: a sequence's outputs are bit-identical whatever the batch
// composition, left padding, chunking of the prompt through a KV cache, or
// thread count (docs/architecture.md, "Determinism by construction").
//
// Thread safety: a loaded Model is read-only; Forward, Score and Generate on
// one Model may run concurrently from several threads, each with its own
// KvCache. SetPolicy must not run concurrently with anything else on that
// Model. A KvCache is used by one call at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "talkie/engine.h"
#include "talkie/export.h"
#include "talkie/hooks.h"
#include "talkie/tensor.h"

namespace talkie {

namespace model {
class Model;
class KvCache;
}  // namespace model

// Shape and hyper-parameters (spec §1).
struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;  // the context length
  double rope_theta = 0;
  int64_t eos_token_id = -1;  // -1 when the config does not say
};

// What was loaded (for `talkie info`-style reports).
struct ModelInfo {
  std::string path;               // as given
  std::string directory;          // folder holding the checkpoint
  std::string checkpoint_format;  // "safetensors", "safetensors-sharded", "pytorch-zip"
  std::string name_layout;        // "hf-port" or "original"
  std::string config_source;      // config.json path, or "inferred from tensors"
  std::string quantization;       // "none", "q8", "q4", or the GGUF file type
  std::string
      config_keys;  // the config keys read: "transformers", "talkie-native", "gguf", "inferred"
  std::string tokenizer_path;        // where Tokenizer::ForModel looks (folder or GGUF file)
  bool lm_head_gain_present = true;  // false: folded into lm_head, taken as 1
  bool orig_mod_prefix = false;      // names carried torch.compile's "_orig_mod."
  std::string gguf_types;            // GGUF: "Q8_0 x 21, F32 x 8", else ""
  std::vector<std::string> files;
  uint64_t file_bytes = 0;
  int64_t n_parameters = 0;
  std::map<std::string, int64_t> dtype_tensor_counts;  // "BF16" -> count
  std::vector<std::string> unknown_tensors;            // in the checkpoint but not used
};

class Model;

// Keys and values of earlier tokens for `batch` rows (spec §5). Slot j of a
// row holds the token fed at step j; left padding occupies slots and is
// hidden by the attention mask. Made by Model::NewCache.
class TALKIE_API KvCache {
 public:
  KvCache();
  ~KvCache();
  KvCache(KvCache&&) noexcept;
  KvCache& operator=(KvCache&&) noexcept;

  int64_t batch() const;
  int64_t length() const;    // tokens held per row
  int64_t capacity() const;  // most tokens a row may hold
  // Drops everything after the first n tokens (rollback, re-feed).
  void Truncate(int64_t n);
  void Clear() { Truncate(0); }
  // An independent copy (e.g. to branch a conversation).
  KvCache Copy() const;
  // A new cache whose row i copies this cache's row rows[i] ({0, 0, 0}:
  // three continuations of one prefix).
  KvCache SelectRows(const std::vector<int64_t>& rows) const;

 private:
  friend class Model;
  friend struct ModelAccess;
  std::unique_ptr<model::KvCache> impl_;
};

// Which positions get logits.
enum class LogitsFor { kAll, kLast, kNone, kSelected };

struct ForwardRequest {
  Tensor<int32_t> input_ids;  // [batch, q_len]
  // Or instead of input_ids: [batch, q_len, n_embd] rows used in place of the
  // embedding lookup (Transformers' inputs_embeds: soft prompts, attribution).
  Tensor<float> inputs_embeds;
  Tensor<uint8_t> attention_mask;  // empty, [batch, kv_len] or [batch, q_len]; 1 = real token
  Tensor<int64_t> position_ids;    // empty (derived: cumsum(mask) - 1) or [batch, q_len]
  bool output_hidden_states = false;
  bool output_attentions = false;
  LogitsFor logits = LogitsFor::kAll;
  std::vector<int64_t> logit_positions;  // with kSelected: indices in [0, q_len)
  // A row whose visible keys are all padding is an error unless this is set
  // (chunked prefill of a left-padded batch feeds such rows; ignore their outputs).
  bool allow_padding_only_rows = false;
  // Hook points to read or patch (talkie/hooks.h); run before the captures
  // and hidden states, which therefore see patched values. Not owned.
  const Hooks* hooks = nullptr;
  // Hook names to return in ForwardResult::captured ("blocks.*.<point>"
  // returns every block's), without computing anything else.
  std::vector<std::string> capture;
};

struct ForwardResult {
  Tensor<float> logits;                  // [batch, logit_positions.size(), vocab]
  std::vector<int64_t> logit_positions;  // which of the q_len positions have logits
  // n_layer + 1 tensors [batch, q_len, n_embd]: 0 = rms(embedding), i = output
  // of block i-1, n_layer = the final rms-normed state (Transformers convention).
  std::vector<Tensor<float>> hidden_states;
  // n_layer tensors [batch, n_head, q_len, kv_len] of softmax weights.
  std::vector<Tensor<float>> attentions;
  Tensor<int64_t> position_ids;  // [batch, q_len], given or derived
  // Per concrete hook name of request.capture: [batch, q_len, row shape...]
  // (hook_pattern [batch, n_head, q_len, kv_len]; logits [batch, positions, vocab]).
  std::map<std::string, Tensor<float>> captured;
};

// Whole prompts through the model (Model::ForwardPrompts).
struct PromptRunOptions {
  int64_t chunk = 0;  // tokens per forward through the KV cache; 0 = all at once
  bool output_hidden_states = false;
  bool output_attentions = false;
  int32_t pad_id = 0;            // token id in padded slots (masked anyway)
  const Hooks* hooks = nullptr;  // run on every forward; not owned
};

// One prompt's outputs, for its real tokens only.
struct PromptOutputs {
  Tensor<float> logits;                      // [len, vocab]
  std::vector<Tensor<float>> hidden_states;  // n_layer + 1 x [len, n_embd], when asked
  std::vector<Tensor<float>> attentions;     // n_layer x [n_head, len, len], when asked
};

// Per-token log-probabilities of a sequence under the model.
struct ScoreResult {
  // log p(token | the ones before it) of each scored token, in text order:
  // [n - 1] (log p(ids[i + 1] | ids[0..i])) when the ids fit one window or
  // the windows overlap; without overlap a window's first token is not scored.
  std::vector<float> token_logprobs;
  double mean_nll = 0;    // nats per scored token
  double perplexity = 0;  // exp(mean_nll)
};

class TALKIE_API Model {
 public:
  // Loads a model directory or checkpoint file in any layout and precision
  // the CLI loads (HF safetensors, sharded, PyTorch zip, q8 / q4); "" loads
  // the default model (DefaultModelPath()). Runs with `engine`'s settings.
  // `progress` hears the slow stages (re-laying a GGUF file, packing for the
  // fast policy); when it throws, the load is abandoned with its exception.
  static Model Load(const std::string& path, const Engine& engine = Engine(),
                    const ProgressCallback& progress = {});

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelConfig& config() const;
  const ModelInfo& info() const;
  const Engine& engine() const;
  // Switches the precision policy (repacks weights; not concurrent with calls).
  // When `progress` throws, the model stays on its old policy.
  void SetPolicy(Policy policy, const ProgressCallback& progress = {});
  // The fast policy's kernel for this model's weights on this CPU ("portable"
  // when the CPU has no SIMD kernel for them: slower than the exact policy).
  std::string fast_kernel_path() const;

  // The matmul weights (every matrix but the embedding), each read once per
  // decoded token: the bytes decode's memory roofline counts, and their
  // parameters (2 flops each per prompt token: prefill's compute roofline).
  struct WeightFootprint {
    int64_t matmul_bytes = 0;
    int64_t matmul_parameters = 0;
  };
  WeightFootprint weight_footprint() const;

  // An empty cache for `batch` rows of at most `capacity` tokens each
  // (0 = the model's context length).
  KvCache NewCache(int64_t batch = 1, int64_t capacity = 0) const;

  // Runs the request's tokens, appending their K/V to `cache` when given
  // (its batch must equal the request's); without a cache the tokens are a
  // fresh start. Throws Error naming the argument for inconsistent input;
  // the cache is unchanged on error.
  ForwardResult Forward(const ForwardRequest& request, KvCache* cache = nullptr) const;

  // Several prompts as one left-padded batch, fed through a fresh KV cache
  // `chunk` tokens at a time, each prompt's outputs gathered for its real
  // tokens (attention maps over its own keys): what `talkie forward` writes.
  // By the contract, every prompt gets the bits it would get alone. Error for
  // no prompts, an empty one, or a negative chunk.
  std::vector<PromptOutputs> ForwardPrompts(const std::vector<std::vector<int32_t>>& prompts,
                                            const PromptRunOptions& options = {}) const;

  // The embedding rows of ids [..] as [.., n_embd] (what inputs_embeds replaces).
  Tensor<float> Embed(const Tensor<int32_t>& ids) const;

  // The logit lens: the model's final rms-norm (unless !apply_final_norm)
  // and lm_head applied to residual-stream vectors [..., n_embd], giving
  // [..., vocab]. Unembed(hidden_states[n_layer], false) equals the logits
  // bit for bit; earlier layers show what the model "would say" there.
  Tensor<float> Unembed(const Tensor<float>& hidden, bool apply_final_norm = true) const;

  // Log-probability of each token given the ones before it (n >= 2 ids),
  // over windows of at most `window` tokens (0 = the context length) moving by
  // `stride` (0 = window); each token is scored once, with the most context
  // available (the Hugging Face sliding-window recipe). `hooks` (optional)
  // run on every forward (steering); `progress` (optional) hears the tokens
  // scored so far and the total after each forward.
  ScoreResult Score(const std::vector<int32_t>& ids, int64_t window = 0, int64_t stride = 0,
                    const Hooks* hooks = nullptr,
                    const std::function<void(int64_t scored, int64_t total)>& progress = {}) const;

 private:
  friend struct ModelAccess;
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace talkie
