// The continuous-batching loop (see scheduler.h).
#include "generate/scheduler.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <span>

#include "model/forward.h"
#include "ops/softmax.h"
#include "talkie/error.h"

namespace talkie::generate {
namespace {

// Log-softmax of the raw logits, accumulated in double for a stable sum.
std::vector<float> LogSoftmax(std::span<const float> logits) {
  const double log_sum = ops::LogSumExp(logits.data(), static_cast<int64_t>(logits.size()));
  std::vector<float> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    out[i] = static_cast<float>(static_cast<double>(logits[i]) - log_sum);
  return out;
}

std::vector<std::pair<int32_t, float>> TopK(const std::vector<float>& lp, int k) {
  std::vector<int32_t> ids(lp.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  k = std::min<int>(k, static_cast<int>(ids.size()));
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return lp[a] > lp[b] || (lp[a] == lp[b] && a < b);
  });
  std::vector<std::pair<int32_t, float>> top;
  for (int i = 0; i < k; ++i) top.emplace_back(ids[i], lp[ids[i]]);
  return top;
}

// The public enum mirrors the internal one value for value (api/generate.cpp).
talkie::FinishReason Public(FinishReason reason) {
  return static_cast<talkie::FinishReason>(reason);
}

std::vector<GenerationConfig> WithHooks(std::vector<GenerationConfig> configs,
                                        const model::HookSet* hooks) {
  for (GenerationConfig& c : configs) c.hooks = hooks;
  return configs;
}
}  // namespace

Request::Request(std::vector<int32_t> prompt, std::vector<GenerationConfig> configs,
                 int top_logprobs, bool logprobs, std::shared_ptr<const model::HookSet> hooks)
    : prompt_(std::move(prompt)),
      hooks_(std::move(hooks)),
      configs_(WithHooks(std::move(configs), hooks_.get())),
      top_logprobs_(top_logprobs),
      logprobs_(logprobs),
      unfinished_(static_cast<int>(configs_.size())) {}

std::vector<SequenceEvent> Request::Wait(std::chrono::milliseconds timeout, bool* done) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty() || unfinished_ == 0; });
  std::vector<SequenceEvent> out(std::make_move_iterator(events_.begin()),
                                 std::make_move_iterator(events_.end()));
  events_.clear();
  *done = unfinished_ == 0;
  return out;
}

void Request::Push(SequenceEvent event) {
  {
    std::lock_guard lock(mutex_);
    if (event.finished) --unfinished_;
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

Scheduler::Scheduler(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                     SchedulerOptions options, ThreadWrapper wrapper)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      prompt_cache_(std::max<int64_t>(options.prompt_cache_bytes, 0)) {
  Check(options_.max_batch >= 1, "max_batch must be >= 1");
  Check(options_.prompt_cache_bytes >= 0, "prompt_cache_bytes must be >= 0");
  Check(options_.max_queue >= 1, "max_queue must be >= 1");
  Check(options_.prefill_chunk >= 1, "prefill_chunk must be >= 1");
  thread_ = std::thread([this, wrapper = std::move(wrapper)] {
    if (wrapper)
      wrapper([this] { Loop(); });
    else
      Loop();
  });
}

Scheduler::~Scheduler() { Shutdown(); }

std::shared_ptr<Request> Scheduler::TrySubmit(std::vector<int32_t> prompt,
                                              std::vector<GenerationConfig> configs,
                                              int top_logprobs, bool logprobs,
                                              std::shared_ptr<const model::HookSet> hooks) {
  Check(!configs.empty(), "a request needs at least one sequence");
  auto request = std::make_shared<Request>(std::move(prompt), std::move(configs), top_logprobs,
                                           logprobs, std::move(hooks));
  {
    std::lock_guard lock(mutex_);
    if (stopping_.load() || static_cast<int64_t>(queue_.size()) >= options_.max_queue) {
      ++requests_rejected_;
      return nullptr;
    }
    queue_.push_back(request);
    ++requests_total_;
    prompt_tokens_ += static_cast<int64_t>(request->prompt().size());
  }
  cv_.notify_all();
  return request;
}

void Scheduler::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true);
  }
  cv_.notify_all();
  // Only one caller joins; the others find the thread already joined.
  std::lock_guard join_lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s;
  s.active_sequences = active_count_.load();
  {
    std::lock_guard lock(mutex_);
    s.queued_requests = static_cast<int64_t>(queue_.size());
  }
  s.requests_total = requests_total_.load();
  s.requests_rejected = requests_rejected_.load();
  s.steps = steps_.load();
  s.generated_tokens = generated_tokens_.load();
  s.prefill_tokens = prefill_tokens_.load();
  s.cached_tokens = cached_tokens_.load();
  s.sequences_cancelled = cancelled_.load();
  s.peak_active_sequences = peak_active_.load();
  return s;
}

SchedulerMetrics Scheduler::metrics() const {
  const SchedulerStats s = stats();
  SchedulerMetrics m;
  m.requests_total = s.requests_total;
  m.requests_rejected = s.requests_rejected;
  m.prompt_tokens = prompt_tokens_.load();
  m.prefill_tokens = s.prefill_tokens;
  m.cached_tokens = s.cached_tokens;
  m.generated_tokens = s.generated_tokens;
  m.sequences_cancelled = s.sequences_cancelled;
  m.steps = s.steps;
  m.queued_requests = s.queued_requests;
  m.active_sequences = s.active_sequences;
  m.last_batch_size = last_batch_.load();
  m.kv_cache_bytes = kv_bytes_.load();
  m.prompt_cache_bytes = prompt_cache_bytes_.load();
  m.time_to_first_token = ttft_.snapshot();
  m.inter_token_latency = inter_token_.snapshot();
  m.step_batch_size = batch_sizes_.snapshot();
  return m;
}

void Scheduler::RecordStep(int64_t batch) {
  last_batch_.store(batch);
  batch_sizes_.Observe(static_cast<double>(batch));
}

void Scheduler::RecordToken(Active& a) {
  const auto now = std::chrono::steady_clock::now();
  const bool first = a.last_token == std::chrono::steady_clock::time_point{};
  const auto since = first ? a.request->submitted_ : a.last_token;
  (first ? ttft_ : inter_token_).Observe(std::chrono::duration<double>(now - since).count());
  a.last_token = now;
}

void Scheduler::RecordKvBytes() {
  int64_t bytes = 0;
  for (const Active& a : active_)
    if (a.sequence) bytes += a.sequence->cache().bytes();
  kv_bytes_.store(bytes);
  prompt_cache_bytes_.store(prompt_cache_.bytes());
}

void Scheduler::KeepCache(Active& a) {
  if (options_.prompt_cache_bytes == 0) return;
  auto [ids, cache] = a.sequence->TakeCache();
  cache.ShrinkToFit();
  prompt_cache_.Insert(std::move(ids), std::move(cache), a.request->hooks_);
  // Before the caller hears that the sequence ended.
  prompt_cache_bytes_.store(prompt_cache_.bytes());
}

void Scheduler::Retire(Active& a, const std::string& error) {
  if (!a.sequence->done()) ++cancelled_;
  a.sequence->Cancel();
  SequenceEvent e;
  e.index = a.index;
  e.finished = true;
  e.finish = Public(a.sequence->result().finish);
  e.completion_tokens = static_cast<int64_t>(a.sequence->result().ids.size());
  e.error = error;
  // Free the KV cache (and count it gone) before the caller hears of it; a
  // cancelled sequence's cache is still right for the tokens it holds.
  if (error.empty() && !stopping_.load()) KeepCache(a);
  a.sequence.reset();
  --active_count_;
  a.request->Push(std::move(e));
}

void Scheduler::Loop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_.load() || !queue_.empty() || !active_.empty(); });
      if (stopping_.load()) break;
      // Requests cancelled while queued leave without ever holding a cache.
      for (auto it = queue_.begin(); it != queue_.end();) {
        if ((*it)->cancelled() && (*it)->admitted_ == 0) {
          for (int i = 0; i < (*it)->n(); ++i) {
            SequenceEvent e;
            e.index = i;
            e.finished = true;
            e.finish = talkie::FinishReason::kCancelled;
            (*it)->Push(std::move(e));
          }
          cancelled_ += (*it)->n();
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
      // Admit sequences in arrival order while batch slots are free.
      while (!queue_.empty() && static_cast<int64_t>(active_.size()) < options_.max_batch) {
        std::shared_ptr<Request> r = queue_.front();
        const int index = r->admitted_++;
        if (r->admitted_ == r->n()) queue_.pop_front();
        Active a;
        a.request = r;
        a.index = index;
        try {
          a.sequence =
              std::make_unique<Sequence>(model_, tokenizer_, r->prompt_, r->configs_[index]);
        } catch (const std::exception& e) {
          SequenceEvent ev;
          ev.index = index;
          ev.finished = true;
          ev.finish = talkie::FinishReason::kCancelled;
          ev.error = e.what();
          r->Push(std::move(ev));
          continue;
        }
        // The longest prefix a finished sequence left behind is not fed again.
        if (index == 0) {
          PrefixCache::Hit hit =
              prompt_cache_.Lookup(r->prompt_, r->hooks_, model::KvTypeFor(model_.precision()));
          if (hit.tokens > 0) {
            a.sequence->ResumeFrom(std::move(hit.cache));
            prompt_cache_bytes_.store(prompt_cache_.bytes());
            r->cached_tokens_ = hit.tokens;
            cached_tokens_ += hit.tokens;
          }
        }
        // n > 1: one prefill for all; the siblings wait for its snapshot.
        a.awaiting_prefill = index > 0;
        active_.push_back(std::move(a));
        ++active_count_;
      }
      peak_active_.store(std::max(peak_active_.load(), static_cast<int64_t>(active_.size())));
    }
    Step();
    RecordKvBytes();
  }
  // Shutting down: everything still queued or running is cancelled.
  std::deque<std::shared_ptr<Request>> queued;
  {
    std::lock_guard lock(mutex_);
    queued.swap(queue_);
  }
  for (Active& a : active_) Retire(a);
  active_.clear();
  RecordKvBytes();
  for (auto& r : queued)
    for (int i = r->admitted_; i < r->n(); ++i) {
      SequenceEvent e;
      e.index = i;
      e.finished = true;
      e.finish = talkie::FinishReason::kCancelled;
      r->Push(std::move(e));
    }
}

void Scheduler::Sample(Active& a, std::span<float> row) {
  Request& r = *a.request;
  // Log-probabilities come from the raw row: Advance modifies it in place.
  std::vector<float> lp;
  if (r.logprobs_) lp = LogSoftmax(row);
  Sequence& seq = *a.sequence;
  const size_t before = seq.result().ids.size();
  SequenceEvent e;
  e.index = a.index;
  e.text = seq.Advance(row);
  ++generated_tokens_;
  RecordToken(a);
  const auto& ids = seq.result().ids;
  for (size_t i = before; i < ids.size(); ++i) {
    e.ids.push_back(ids[i]);
    if (r.logprobs_) e.logprobs.push_back({ids[i], lp[ids[i]], TopK(lp, r.top_logprobs_)});
  }
  if (seq.done()) {
    e.finished = true;
    e.finish = Public(seq.result().finish);
    e.completion_tokens = static_cast<int64_t>(ids.size());
    KeepCache(a);
    a.sequence.reset();
    --active_count_;
  }
  r.Push(std::move(e));
}

void Scheduler::StartFromSnapshots() {
  for (Active& a : active_) {
    if (!a.awaiting_prefill) continue;
    if (!a.request->snapshot_) {
      // No sibling is prefilling (its sequence could not start): prefill here.
      if (std::none_of(active_.begin(), active_.end(), [&](const Active& b) {
            return b.request == a.request && b.sequence && !b.awaiting_prefill;
          }))
        a.awaiting_prefill = false;
      continue;
    }
    a.awaiting_prefill = false;
    const Request::PrefillSnapshot& snap = *a.request->snapshot_;
    a.sequence->AdoptPrefill(snap.cache);
    std::vector<float> row = snap.logits;
    Sample(a, row);
  }
  // A snapshot is kept until the last sibling has started from it.
  for (Active& a : active_) {
    Request& r = *a.request;
    if (!r.snapshot_ || r.admitted_ < r.n()) continue;
    const bool waiting = std::any_of(active_.begin(), active_.end(), [&](const Active& b) {
      return b.awaiting_prefill && b.request == a.request;
    });
    if (!waiting) r.snapshot_.reset();
  }
}

void Scheduler::Step() {
  // Cancelled sequences leave before the forward, freeing their caches.
  for (Active& a : active_)
    if (a.request->cancelled()) Retire(a);
  std::erase_if(active_, [](const Active& a) { return !a.sequence; });
  // Siblings admitted after their request's prefill start at once.
  StartFromSnapshots();
  std::erase_if(active_, [](const Active& a) { return !a.sequence; });
  if (active_.empty()) return;

  std::vector<size_t> stepped;  // indices into active_
  std::vector<model::SequenceStep> steps;
  for (size_t k = 0; k < active_.size(); ++k) {
    if (active_[k].awaiting_prefill) continue;
    stepped.push_back(k);
    const bool prefill = active_[k].sequence->prefilling();
    steps.push_back(active_[k].sequence->NextStep(options_.prefill_chunk));
    if (prefill) prefill_tokens_ += static_cast<int64_t>(steps.back().ids.size());
  }
  if (steps.empty()) return;
  std::vector<std::vector<float>> logits;
  try {
    logits = model::ForwardRagged(model_, steps);
  } catch (const std::exception& e) {
    // Not expected (inputs were validated); fail the batch rather than hang it.
    for (Active& a : active_) Retire(a, std::string("model error: ") + e.what());
    active_.clear();
    return;
  }
  ++steps_;
  RecordStep(static_cast<int64_t>(steps.size()));

  const int64_t vocab = model_.config().vocab_size;
  for (size_t s = 0; s < stepped.size(); ++s) {
    if (logits[s].empty()) continue;  // a prefill chunk before the last
    Active& a = active_[stepped[s]];
    Request& r = *a.request;
    std::span<float> row(logits[s].data(), static_cast<size_t>(vocab));
    // The end of a prefill the request's other sequences can share.
    if (r.n() > 1 && !r.snapshot_ && a.sequence->sampled() == 0)
      r.snapshot_ = std::make_unique<Request::PrefillSnapshot>(
          Request::PrefillSnapshot{a.sequence->cache(), {row.begin(), row.end()}});
    Sample(a, row);
  }
  StartFromSnapshots();
  std::erase_if(active_, [](const Active& a) { return !a.sequence; });
}

}  // namespace talkie::generate
