// One sequence being generated: its prompt, own KV cache, random stream and
// text pipeline (UTF-8 streaming decoder -> stop-string filter). Used by the
// batch Generator and the server's scheduler alike:
//
//   while (!seq.done()) {
//     steps.push_back(seq.NextStep(chunk));        // prompt chunk or last token
//     ... model::ForwardRagged(model, steps) ...
//     if (the step returned logits) text = seq.Advance(logits);   // sample
//   }
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "generate/sampler.h"
#include "model/forward.h"
#include "tokenizer/stop_filter.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace talkie::generate {

struct GenerationConfig {
  int64_t max_new_tokens = 256;
  SamplingConfig sampling;
  // Unset: the tokenizer's defaults (<|endoftext|>, plus <|end|> for IT);
  // an empty list disables stop tokens.
  std::optional<std::vector<int32_t>> stop_token_ids;
  // Generation ends when the text contains one of these; the text returned
  // stops just before it. The chat markers of spec §4 always count.
  std::vector<std::string> stop_strings;
  // Never sampled (their logits become -inf before sampling): with
  // tokenizer::EndTokenIds(), generation runs to max_new_tokens ("ignore_eos").
  std::vector<int32_t> banned_token_ids;
  // Hook points run on every step of this sequence (steering, capture);
  // null: none. Must outlive the generation.
  const model::HookSet* hooks = nullptr;
};

// Validates sampling fields and max_new_tokens (Error naming the field).
void ValidateGenerationConfig(const GenerationConfig& config);

enum class FinishReason { kStopToken, kStopString, kLength, kCancelled };
// "stop_token", "stop_string", "length", "cancelled".
std::string_view FinishReasonName(FinishReason reason);

struct SequenceResult {
  std::vector<int32_t> ids;  // generated ids (a final stop token excluded)
  std::string text;          // the streamed text, cut before any stop string
  FinishReason finish = FinishReason::kLength;
  std::string stop_string;  // which stop string ended it, if any
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;  // prompt tokens taken from a reused cache (ResumeFrom)
};

class Sequence {
 public:
  // The prompt must be non-empty and shorter than the model's context.
  Sequence(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
           std::vector<int32_t> prompt, GenerationConfig config);
  // Without a tokenizer: ids in, ids out (no text, no stop strings); the
  // default stop token is the config's eos_token_id when it has one.
  Sequence(const model::Model& model, const tokenizer::Tokenizer* tokenizer,
           std::vector<int32_t> prompt, GenerationConfig config);

  bool done() const { return done_; }
  // True while prompt tokens remain to be fed.
  bool prefilling() const { return cache_.length() < prompt_len_; }
  // The next forward input: up to `prefill_chunk` prompt tokens (logits only
  // with the last chunk), else the last sampled token. Not when done().
  model::SequenceStep NextStep(int64_t prefill_chunk);
  // Samples from the logits of the step that asked for them (the row is
  // modified by the repetition penalty); returns the text that became final.
  // On finish the held-back text is flushed into the return value.
  std::string Advance(std::span<float> logits);
  // Ends the sequence now (finish reason "cancelled"); nothing more is emitted.
  void Cancel();
  // Skips the prefill: takes a copy of a cache that holds exactly this
  // sequence's prompt (a sibling's, right after its prefill, with the same
  // hooks). The next call is then Advance() with that prefill's last logits;
  // by the contract's batch invariance the result is bit-identical to
  // prefilling here.
  void AdoptPrefill(const model::KvCache& prompt_cache);
  // Skips part of the prefill: takes a cache holding the first
  // prefix.length() tokens of this sequence's prompt (fewer than all of
  // them), made under the same hooks and policy (generate/prefix_cache.h).
  // The rest of the prompt is fed on top; by the contract's chunking
  // invariance the logits are bit-identical to a whole prefill.
  void ResumeFrom(model::KvCache prefix);

  const SequenceResult& result() const { return result_; }
  SequenceResult TakeResult() { return std::move(result_); }
  const model::KvCache& cache() const { return cache_; }
  // Hands the cache over with the tokens it holds, in order (the prompt,
  // then the generated tokens fed), e.g. to a PrefixCache; only once done().
  std::pair<std::vector<int32_t>, model::KvCache> TakeCache();
  // Tokens sampled so far (stop tokens included).
  int64_t sampled() const { return sampled_; }

 private:
  std::string Finish(FinishReason reason);

  const model::Model& model_;
  const tokenizer::Tokenizer* tokenizer_;  // null: ids only
  GenerationConfig config_;
  std::vector<int32_t> stop_ids_;
  std::vector<int32_t> history_;  // prompt + generated (repetition penalty)
  int64_t prompt_len_ = 0;
  model::KvCache cache_;
  Rng rng_;
  tokenizer::Utf8StreamDecoder utf8_;
  tokenizer::StopFilter stop_;
  SequenceResult result_;
  int64_t sampled_ = 0;
  bool done_ = false;
};

}  // namespace talkie::generate
