// The public Scheduler: a handle on generate::Scheduler (src/generate), whose
// thread runs under the model's engine settings.
#include "talkie/scheduler.h"

#include <utility>

#include "api/access.h"
#include "api/engine_scope.h"
#include "api/generate_options.h"
#include "generate/scheduler.h"
#include "talkie/error.h"

namespace talkie {

// --- ScheduledRequest ---

ScheduledRequest::ScheduledRequest(std::shared_ptr<generate::Request> impl)
    : impl_(std::move(impl)) {}
ScheduledRequest::~ScheduledRequest() = default;

std::vector<SequenceEvent> ScheduledRequest::Wait(std::chrono::milliseconds timeout, bool* done) {
  return impl_->Wait(timeout, done);
}
void ScheduledRequest::Cancel() { impl_->Cancel(); }
bool ScheduledRequest::cancelled() const { return impl_->cancelled(); }
const std::vector<int32_t>& ScheduledRequest::prompt() const { return impl_->prompt(); }
int ScheduledRequest::n() const { return impl_->n(); }
int64_t ScheduledRequest::cached_tokens() const { return impl_->cached_tokens(); }

// --- Scheduler ---

Scheduler::Scheduler(const Model& model, const Tokenizer& tokenizer, SchedulerOptions options) {
  const Engine engine = model.engine();
  impl_ = std::make_unique<generate::Scheduler>(ModelAccess::Internal(model),
                                                TokenizerAccess::Internal(tokenizer), options,
                                                [engine](const std::function<void()>& loop) {
                                                  const api::EngineScope scope(engine);
                                                  loop();
                                                });
}

Scheduler::~Scheduler() = default;

std::shared_ptr<ScheduledRequest> Scheduler::TrySubmit(std::vector<int32_t> prompt,
                                                       const std::vector<GenerateOptions>& options,
                                                       int top_logprobs, bool logprobs,
                                                       std::shared_ptr<const Hooks> hooks) {
  Check(!options.empty(), "a request needs at least one sequence");
  Check(!prompt.empty(), "the prompt is empty");
  Check(top_logprobs >= 0, "top_logprobs must be >= 0, got " + std::to_string(top_logprobs));
  std::vector<generate::GenerationConfig> configs;
  for (const GenerateOptions& o : options) {
    Check(o.hooks == nullptr,
          "Scheduler::TrySubmit: pass a request's hooks as its hooks argument, not in "
          "GenerateOptions::hooks");
    ValidateGenerateOptions(o);
    configs.push_back(api::ToConfig(o));
  }
  // Shares ownership of the public Hooks and points at its HookSet: the same
  // Hooks object is the same prompt-cache key.
  std::shared_ptr<const model::HookSet> internal_hooks(hooks, ModelAccess::Internal(hooks.get()));
  std::shared_ptr<generate::Request> request = impl_->TrySubmit(
      std::move(prompt), std::move(configs), top_logprobs, logprobs, std::move(internal_hooks));
  if (!request) return nullptr;
  return std::shared_ptr<ScheduledRequest>(new ScheduledRequest(std::move(request)));
}

void Scheduler::Shutdown() { impl_->Shutdown(); }
bool Scheduler::accepting() const { return impl_->accepting(); }
SchedulerStats Scheduler::stats() const { return impl_->stats(); }
SchedulerMetrics Scheduler::metrics() const { return impl_->metrics(); }
const SchedulerOptions& Scheduler::options() const { return impl_->options(); }

}  // namespace talkie
