// Text generation: sampling, stop rules, streaming, cancellation, batches.
//
//   talkie::GenerateOptions opt;
//   opt.max_new_tokens = 64;
//   opt.sampling.temperature = 0;  // greedy
//   talkie::Generation g = talkie::Generate(model, tok, tok.Encode("It was"), opt);
//
// Each sequence gets exactly the tokens it would get alone, whatever else
// runs in the batch and whatever the thread count; a seed reproduces a run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "talkie/export.h"
#include "talkie/hooks.h"

namespace talkie {

class Model;
class Tokenizer;

// Applied in this order (Transformers semantics): repetition penalty ->
// temperature -> top-k -> top-p -> min-p -> draw.
struct SamplingOptions {
  float temperature = 1.0f;         // 0 = greedy (argmax, first index on ties)
  int64_t top_k = 0;                // 0 = off
  float top_p = 1.0f;               // in (0, 1]; 1 = off
  float min_p = 0.0f;               // in [0, 1]; 0 = off
  float repetition_penalty = 1.0f;  // > 0; 1 = off
  uint64_t seed = 0;
};

struct GenerateOptions {
  int64_t max_new_tokens = 256;
  SamplingOptions sampling;
  // Unset: the tokenizer's stop tokens (Tokenizer::stop_token_ids); an empty
  // list never stops at a token (ignore EOS).
  std::optional<std::vector<int32_t>> stop_token_ids;
  // Generation ends when the text contains one of these; the returned text
  // stops just before it. The chat markers always count.
  std::vector<std::string> stop_strings;
  // Never sampled (their logits become -inf before sampling). With
  // Tokenizer::end_token_ids(): generate to max_new_tokens ("ignore_eos").
  std::vector<int32_t> banned_token_ids;
  int64_t prefill_chunk = 512;  // prompt tokens a sequence feeds per step
  // Hook points run on every step of this prompt's sequence (steering,
  // capture during generation); HookEvent::sequence is the prompt's index.
  const Hooks* hooks = nullptr;
};

// Throws Error for options Generate refuses; the message starts with the
// field's name ("temperature must be >= 0, got -1", "top_p ..."). Lets a
// program check options before any model work.
TALKIE_API void ValidateGenerateOptions(const GenerateOptions& options);

enum class FinishReason { kStopToken, kStopString, kLength, kCancelled };
// "stop_token", "stop_string", "length", "cancelled".
TALKIE_API const char* FinishReasonName(FinishReason reason);

struct Generation {
  std::vector<int32_t> tokens;  // generated ids (a final stop token excluded)
  std::string text;             // their text, cut before any stop string
  FinishReason finish = FinishReason::kLength;
  std::string stop_string;  // the stop string that ended it, if any
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens taken from a PromptCache instead of fed
};

// Timing and token counts of one Generator::Run (all sequences together).
struct GenerationStats {
  int64_t prompt_tokens = 0;     // prompt tokens
  int64_t cached_tokens = 0;     // of those, taken from the prompt cache (not fed)
  int64_t generated_tokens = 0;  // sampled tokens
  double prefill_seconds = 0.0;  // feeding the prompts
  double decode_seconds = 0.0;   // sampling the rest
};

// Receives text of sequence `index` as it becomes final (complete UTF-8,
// never part of a stop string). Return false to stop that sequence
// (finish reason kCancelled).
using StreamCallback = std::function<bool(size_t index, std::string_view text)>;

namespace generate {
class PrefixCache;
}

// The KV caches of finished sequences, kept so that a later prompt starting
// with the same tokens skips feeding them again (a chat's next turn, a long
// shared system prompt). Outputs are bit-identical with and without it (the
// contract's chunking invariance). Entries are keyed by the Hooks object
// they ran under (steering changes keys and values) and the policy. At most
// `max_bytes` of caches and `max_entries` entries, least recently used first
// out. Not thread-safe: one Generator uses it at a time.
class TALKIE_API PromptCache {
 public:
  explicit PromptCache(int64_t max_bytes, int64_t max_entries = 64);
  ~PromptCache();
  PromptCache(PromptCache&&) noexcept;
  PromptCache& operator=(PromptCache&&) noexcept;

  void Clear();
  int64_t bytes() const;
  int64_t entries() const;

 private:
  friend class Generator;
  std::unique_ptr<generate::PrefixCache> impl_;
};

// Generate with more control: statistics, a prompt cache kept across calls.
// One Generator per thread; the model and tokenizer must outlive it.
class TALKIE_API Generator {
 public:
  Generator(const Model& model, const Tokenizer& tokenizer);
  explicit Generator(const Model& model);  // ids only: no text, no stop strings

  // Each prompt resumes from the longest prefix `cache` holds, and every
  // finished sequence's cache goes back into it. nullptr: none. The cache
  // (and the Hooks its entries were made with) must outlive its use here.
  void set_prompt_cache(PromptCache* cache) { prompt_cache_ = cache; }

  // As Generate; `stats` (optional) receives the counts and timings.
  std::vector<Generation> Run(const std::vector<std::vector<int32_t>>& prompts,
                              const std::vector<GenerateOptions>& options,
                              const StreamCallback& on_text = {}, std::stop_token cancel = {},
                              GenerationStats* stats = nullptr);

 private:
  const Model& model_;
  const Tokenizer* tokenizer_;
  PromptCache* prompt_cache_ = nullptr;
};

// Generates a continuation of every prompt as one batch. `options` holds one
// entry for all prompts or one per prompt. A stop request on `cancel` (from
// any thread) ends every unfinished sequence with kCancelled after the
// current step. A prompt must be non-empty and shorter than the context.
TALKIE_API std::vector<Generation> Generate(const Model& model, const Tokenizer& tokenizer,
                                            const std::vector<std::vector<int32_t>>& prompts,
                                            const std::vector<GenerateOptions>& options,
                                            const StreamCallback& on_text = {},
                                            std::stop_token cancel = {});
// Ids in, ids out, without a tokenizer (Transformers' generate on ids): no
// text, no stop strings; the default stop token is the config's eos_token_id
// when it names one.
TALKIE_API std::vector<Generation> Generate(const Model& model,
                                            const std::vector<std::vector<int32_t>>& prompts,
                                            const std::vector<GenerateOptions>& options,
                                            std::stop_token cancel = {});
// One prompt.
TALKIE_API Generation Generate(const Model& model, const Tokenizer& tokenizer,
                               const std::vector<int32_t>& prompt, const GenerateOptions& options,
                               const StreamCallback& on_text = {}, std::stop_token cancel = {});

}  // namespace talkie
