// The per-sequence generation state machine (see sequence.h).
#include "generate/sequence.h"

#include <algorithm>
#include <limits>

#include "common/error.h"

namespace talkie::generate {

Sequence::Sequence(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                   std::vector<int32_t> prompt, GenerationConfig config)
    : Sequence(model, &tokenizer, std::move(prompt), std::move(config)) {}

Sequence::Sequence(const model::Model& model, const tokenizer::Tokenizer* tokenizer,
                   std::vector<int32_t> prompt, GenerationConfig config)
    : model_(model),
      tokenizer_(tokenizer),
      config_(std::move(config)),
      history_(std::move(prompt)),
      prompt_len_(static_cast<int64_t>(history_.size())),
      cache_(model.config(), 1),
      rng_(config_.sampling.seed),
      stop_(config_.stop_strings) {
  ValidateGenerationConfig(config_);
  const int64_t context = model.config().max_position_embeddings;
  Check(prompt_len_ > 0, "empty prompt");
  Check(prompt_len_ < context, "prompt has " + std::to_string(prompt_len_) +
                                   " tokens; the context limit is " + std::to_string(context) +
                                   " (one more is needed to generate)");
  Check(tokenizer != nullptr || config_.stop_strings.empty(),
        "stop strings need a tokenizer (generation without one works on ids only)");
  for (int32_t id : config_.banned_token_ids)
    Check(id >= 0 && id < model.config().vocab_size,
          "banned token id " + std::to_string(id) + " is not in the vocabulary");
  if (config_.stop_token_ids) {
    stop_ids_ = *config_.stop_token_ids;
  } else if (tokenizer != nullptr) {
    stop_ids_ = tokenizer::DefaultStopTokenIds(*tokenizer);
  } else if (model.config().eos_token_id >= 0) {
    stop_ids_ = {static_cast<int32_t>(model.config().eos_token_id)};
  }
  result_.prompt_tokens = prompt_len_;
}

model::SequenceStep Sequence::NextStep(int64_t prefill_chunk) {
  model::SequenceStep step;
  step.cache = &cache_;
  step.hooks = config_.hooks;
  const int64_t cached = cache_.length();
  if (cached < prompt_len_) {
    const int64_t n =
        prefill_chunk > 0 ? std::min(prefill_chunk, prompt_len_ - cached) : prompt_len_ - cached;
    step.ids.assign(history_.begin() + cached, history_.begin() + cached + n);
    step.logits = cached + n == prompt_len_ ? model::LogitsFor::kLast : model::LogitsFor::kNone;
  } else {
    step.ids = {history_.back()};
    step.logits = model::LogitsFor::kLast;
  }
  return step;
}

std::string Sequence::Advance(std::span<float> logits) {
  if (done_) return "";
  if (config_.max_new_tokens == 0) return Finish(FinishReason::kLength);
  for (int32_t banned : config_.banned_token_ids)
    logits[static_cast<size_t>(banned)] = -std::numeric_limits<float>::infinity();
  const int32_t id = SampleToken(logits, config_.sampling, history_, rng_);
  ++sampled_;
  if (std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end())
    return Finish(FinishReason::kStopToken);
  result_.ids.push_back(id);
  history_.push_back(id);
  std::string text = tokenizer_ ? stop_.Push(utf8_.Feed(tokenizer_->TokenBytes(id))) : "";
  result_.text += text;
  if (stop_.stopped()) {
    result_.stop_string = stop_.matched();
    return text + Finish(FinishReason::kStopString);
  }
  // The context rule: prompt + generated tokens <= the model's context.
  if (static_cast<int64_t>(result_.ids.size()) >= config_.max_new_tokens ||
      static_cast<int64_t>(history_.size()) >= model_.config().max_position_embeddings)
    return text + Finish(FinishReason::kLength);
  return text;
}

void Sequence::Cancel() {
  if (done_) return;
  done_ = true;
  result_.finish = FinishReason::kCancelled;
}

void Sequence::AdoptPrefill(const model::KvCache& prompt_cache) {
  Check(!done_ && sampled_ == 0 && cache_.length() == 0,
        "AdoptPrefill: the sequence has already started");
  Check(prompt_cache.batch() == 1 && prompt_cache.length() == prompt_len_,
        "AdoptPrefill: the cache holds " + std::to_string(prompt_cache.length()) +
            " tokens, the prompt has " + std::to_string(prompt_len_));
  cache_ = prompt_cache;
}

void Sequence::ResumeFrom(model::KvCache prefix) {
  Check(!done_ && sampled_ == 0 && cache_.length() == 0,
        "ResumeFrom: the sequence has already started");
  Check(prefix.batch() == 1 && prefix.length() < prompt_len_,
        "ResumeFrom: the cache holds " + std::to_string(prefix.length()) +
            " tokens; it must hold fewer than the prompt's " + std::to_string(prompt_len_));
  cache_ = std::move(prefix);
  result_.cached_tokens = cache_.length();
}

std::pair<std::vector<int32_t>, model::KvCache> Sequence::TakeCache() {
  Check(done_, "TakeCache: the sequence is still running");
  std::vector<int32_t> ids(history_.begin(), history_.begin() + cache_.length());
  model::KvCache cache = std::move(cache_);
  cache_ = model::KvCache(model_.config(), 1);
  return {std::move(ids), std::move(cache)};
}

std::string Sequence::Finish(FinishReason reason) {
  done_ = true;
  result_.finish = reason;
  if (reason == FinishReason::kStopString) return "";  // the rest is cut
  std::string tail = stop_.Push(utf8_.Flush());
  if (!stop_.stopped()) tail += stop_.Flush();
  if (stop_.stopped()) {
    result_.finish = FinishReason::kStopString;
    result_.stop_string = stop_.matched();
  }
  result_.text += tail;
  return tail;
}

}  // namespace talkie::generate
