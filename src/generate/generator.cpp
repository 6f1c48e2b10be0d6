// Batched generation (see generator.h).
#include "generate/generator.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "common/error.h"
#include "model/forward.h"
#include "tokenizer/stop_filter.h"
#include "tokenizer/utf8.h"

namespace talkie::generate {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A prefix cache key for hooks the caller keeps alive: a non-owning pointer.
std::shared_ptr<const void> HooksKey(const model::HookSet* hooks) {
  return {std::shared_ptr<const void>(), hooks};
}

}  // namespace

Generator::Generator(const model::Model& model, const tokenizer::Tokenizer& tokenizer)
    : Generator(model, &tokenizer) {}

Generator::Generator(const model::Model& model, const tokenizer::Tokenizer* tokenizer)
    : model_(model), tokenizer_(tokenizer) {
  if (tokenizer == nullptr) return;
  Check(tokenizer->vocab_size() <= model.config().vocab_size,
        "tokenizer has " + std::to_string(tokenizer->vocab_size()) + " ids but the model only " +
            std::to_string(model.config().vocab_size));
}

std::vector<SequenceResult> Generator::Generate(const std::vector<std::vector<int32_t>>& prompts,
                                                const std::vector<GenerationConfig>& configs,
                                                const TextCallback& on_text, GenerationStats* stats,
                                                int64_t prefill_chunk) {
  Check(!prompts.empty(), "generate: no prompt given");
  Check(configs.size() == 1 || configs.size() == prompts.size(),
        "generate: give one config, or one per prompt (" + std::to_string(prompts.size()) + ")");
  std::vector<std::unique_ptr<Sequence>> seqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    try {
      seqs.push_back(std::make_unique<Sequence>(model_, tokenizer_, prompts[i],
                                                configs[configs.size() == 1 ? 0 : i]));
    } catch (const Error& e) {
      throw Error("prompt " + std::to_string(i) + ": " + e.what());
    }
  }
  GenerationStats local_stats;
  GenerationStats& st = stats ? *stats : local_stats;
  for (const auto& p : prompts) st.prompt_tokens += static_cast<int64_t>(p.size());
  const model::KvType cache_type = model::KvTypeFor(model_.precision());
  if (prefix_cache_ != nullptr) {
    for (size_t i = 0; i < seqs.size(); ++i) {
      const GenerationConfig& c = configs[configs.size() == 1 ? 0 : i];
      PrefixCache::Hit hit = prefix_cache_->Lookup(prompts[i], HooksKey(c.hooks), cache_type);
      if (hit.tokens == 0) continue;
      seqs[i]->ResumeFrom(std::move(hit.cache));
      st.cached_tokens += hit.tokens;
    }
  }

  // Every step feeds each unfinished sequence either its next prompt chunk or
  // its last sampled token, all in one ragged forward; sequences whose prompt
  // is complete get logits and sample. Finished ones simply leave.
  const int64_t vocab = model_.config().vocab_size;
  while (true) {
    if (cancelled_ && cancelled_())
      for (auto& s : seqs)
        if (!s->done()) s->Cancel();
    std::vector<model::SequenceStep> steps;
    std::vector<size_t> fed;
    bool prefilling = false;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (seqs[i]->done()) continue;
      prefilling = prefilling || seqs[i]->prefilling();
      steps.push_back(seqs[i]->NextStep(prefill_chunk));
      steps.back().sequence_id = static_cast<int64_t>(i);  // hooks see the prompt's index
      fed.push_back(i);
    }
    if (steps.empty()) break;
    const auto t = Clock::now();
    std::vector<std::vector<float>> logits = model::ForwardRagged(model_, steps);
    (prefilling ? st.prefill_seconds : st.decode_seconds) += Seconds(t);
    for (size_t k = 0; k < fed.size(); ++k) {
      if (logits[k].empty()) continue;
      const size_t i = fed[k];
      std::span<float> row(logits[k].data(), vocab);
      if (processor_) processor_(i, row);
      const std::string piece = seqs[i]->Advance(row);
      if (!piece.empty() && on_text && !on_text(i, piece)) seqs[i]->Cancel();
    }
  }

  std::vector<SequenceResult> results;
  for (size_t i = 0; i < seqs.size(); ++i) {
    Sequence& s = *seqs[i];
    st.generated_tokens += s.sampled();
    results.push_back(s.TakeResult());
    if (prefix_cache_ == nullptr) continue;
    auto [ids, cache] = s.TakeCache();
    cache.ShrinkToFit();
    prefix_cache_->Insert(std::move(ids), std::move(cache),
                          HooksKey(configs[configs.size() == 1 ? 0 : i].hooks));
  }
  return results;
}

}  // namespace talkie::generate
