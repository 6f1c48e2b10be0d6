// Public generation: GenerateOptions -> generate::Generator (src/generate).
#include "talkie/generate.h"

#include "api/access.h"
#include "api/engine_scope.h"
#include "api/generate_options.h"
#include "generate/generator.h"

namespace talkie {

namespace {

FinishReason ToPublic(generate::FinishReason r) { return static_cast<FinishReason>(r); }

std::vector<Generation> GenerateWith(const Model& model, const tokenizer::Tokenizer* tokenizer,
                                     const std::vector<std::vector<int32_t>>& prompts,
                                     const std::vector<GenerateOptions>& options,
                                     const StreamCallback& on_text, std::stop_token cancel,
                                     generate::PrefixCache* prompt_cache = nullptr,
                                     GenerationStats* stats = nullptr) {
  Check(!options.empty(), "Generate: no options given");
  int64_t prefill_chunk = options[0].prefill_chunk;
  std::vector<generate::GenerationConfig> configs;
  for (const GenerateOptions& o : options) {
    ValidateGenerateOptions(o);
    prefill_chunk = std::min(prefill_chunk, o.prefill_chunk);
    configs.push_back(api::ToConfig(o));
  }
  api::EngineScope scope(model.engine());
  generate::Generator generator(ModelAccess::Internal(model), tokenizer);
  if (cancel.stop_possible()) generator.set_cancel([&cancel] { return cancel.stop_requested(); });
  generator.set_prefix_cache(prompt_cache);
  generate::GenerationStats st;
  const std::vector<generate::SequenceResult> results =
      generator.Generate(prompts, configs, on_text, &st, prefill_chunk);
  if (stats != nullptr)
    *stats = {st.prompt_tokens, st.cached_tokens, st.generated_tokens, st.prefill_seconds,
              st.decode_seconds};
  std::vector<Generation> out;
  out.reserve(results.size());
  for (const generate::SequenceResult& r : results)
    out.push_back(
        {r.ids, r.text, ToPublic(r.finish), r.stop_string, r.prompt_tokens, r.cached_tokens});
  return out;
}

}  // namespace

PromptCache::PromptCache(int64_t max_bytes, int64_t max_entries)
    : impl_(std::make_unique<generate::PrefixCache>(max_bytes, max_entries)) {}
PromptCache::~PromptCache() = default;
PromptCache::PromptCache(PromptCache&&) noexcept = default;
PromptCache& PromptCache::operator=(PromptCache&&) noexcept = default;
void PromptCache::Clear() { impl_->Clear(); }
int64_t PromptCache::bytes() const { return impl_->bytes(); }
int64_t PromptCache::entries() const { return impl_->entries(); }

Generator::Generator(const Model& model, const Tokenizer& tokenizer)
    : model_(model), tokenizer_(&tokenizer) {}
Generator::Generator(const Model& model) : model_(model), tokenizer_(nullptr) {}

std::vector<Generation> Generator::Run(const std::vector<std::vector<int32_t>>& prompts,
                                       const std::vector<GenerateOptions>& options,
                                       const StreamCallback& on_text, std::stop_token cancel,
                                       GenerationStats* stats) {
  Check(tokenizer_ != nullptr || !on_text,
        "Generator::Run: streaming text needs a tokenizer (this generator is ids only)");
  return GenerateWith(model_,
                      tokenizer_ == nullptr ? nullptr : &TokenizerAccess::Internal(*tokenizer_),
                      prompts, options, on_text, std::move(cancel),
                      prompt_cache_ == nullptr ? nullptr : prompt_cache_->impl_.get(), stats);
}

std::vector<Generation> Generate(const Model& model, const Tokenizer& tokenizer,
                                 const std::vector<std::vector<int32_t>>& prompts,
                                 const std::vector<GenerateOptions>& options,
                                 const StreamCallback& on_text, std::stop_token cancel) {
  return GenerateWith(model, &TokenizerAccess::Internal(tokenizer), prompts, options, on_text,
                      std::move(cancel));
}

std::vector<Generation> Generate(const Model& model,
                                 const std::vector<std::vector<int32_t>>& prompts,
                                 const std::vector<GenerateOptions>& options,
                                 std::stop_token cancel) {
  return GenerateWith(model, nullptr, prompts, options, {}, std::move(cancel));
}

Generation Generate(const Model& model, const Tokenizer& tokenizer,
                    const std::vector<int32_t>& prompt, const GenerateOptions& options,
                    const StreamCallback& on_text, std::stop_token cancel) {
  const std::vector<std::vector<int32_t>> prompts = {prompt};
  const std::vector<GenerateOptions> all = {options};
  return std::move(Generate(model, tokenizer, prompts, all, on_text, std::move(cancel))[0]);
}

}  // namespace talkie
