// Text generation over a batch of prompts. Each sequence has its own KV cache;
// every step runs one ragged forward (model::ForwardRagged) that feeds each
// unfinished sequence its next prompt chunk or its last sampled token.
// Finished sequences simply leave the batch. Each sequence gets exactly the
// logits and the tokens it would get alone (docs/architecture.md,
// "Determinism"), whatever else runs beside it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "generate/prefix_cache.h"
#include "generate/sequence.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace talkie::generate {

struct GenerationStats {
  int64_t prompt_tokens = 0;     // prompt tokens, over all sequences
  int64_t cached_tokens = 0;     // of those, taken from the prefix cache (not fed)
  int64_t generated_tokens = 0;  // sampled tokens, over all sequences
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;
};

// Receives text pieces of sequence `index` as they become final (complete
// UTF-8, never part of a stop string). Returning false stops that sequence
// (finish reason "cancelled").
using TextCallback = std::function<bool(size_t index, std::string_view piece)>;

class Generator {
 public:
  Generator(const model::Model& model, const tokenizer::Tokenizer& tokenizer);
  // Ids only: no text, no stop strings (see Sequence).
  explicit Generator(const model::Model& model, const tokenizer::Tokenizer* tokenizer = nullptr);

  // One config per prompt (or a single config for all). The context limit is
  // the model's max_position_embeddings: a prompt that fills it is an error;
  // generation that reaches it ends cleanly with finish reason "length".
  // `prefill_chunk` bounds the prompt tokens a sequence feeds per step.
  std::vector<SequenceResult> Generate(const std::vector<std::vector<int32_t>>& prompts,
                                       const std::vector<GenerationConfig>& configs,
                                       const TextCallback& on_text = {},
                                       GenerationStats* stats = nullptr,
                                       int64_t prefill_chunk = 512);

  // Sees, and may change, the logits each sequence samples its next token
  // from (before the sampler's own processing): for logit biases, constrained
  // decoding, and tests that record or force tokens.
  using LogitsProcessor = std::function<void(size_t index, std::span<float> logits)>;
  void set_logits_processor(LogitsProcessor processor) { processor_ = std::move(processor); }
  // Asked before every step; once it returns true, every unfinished sequence
  // ends with finish reason "cancelled" (a stop request from another thread).
  void set_cancel(std::function<bool()> cancelled) { cancelled_ = std::move(cancelled); }
  // Reuse: each prompt resumes from the longest prefix `cache` holds (made
  // under the same hooks), and every finished sequence's cache goes back
  // into it (bit-identical results either way; generate/prefix_cache.h).
  // null: none. The cache, and the hooks its entries were made with, must
  // outlive its use here.
  void set_prefix_cache(PrefixCache* cache) { prefix_cache_ = cache; }

 private:
  const model::Model& model_;
  const tokenizer::Tokenizer* tokenizer_;  // null: ids only
  LogitsProcessor processor_;
  std::function<bool()> cancelled_;
  PrefixCache* prefix_cache_ = nullptr;
};

}  // namespace talkie::generate
