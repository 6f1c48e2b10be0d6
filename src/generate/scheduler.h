// The continuous-batching scheduler behind talkie::Scheduler
// (include/talkie/scheduler.h, which defines its plain-data types) and
// `talkie serve`: one thread owns the model and steps every active sequence
// together (decode rows and prefill chunks of newly admitted requests in one
// model::ForwardRagged), admits queued requests between steps and frees
// finished or cancelled ones at once. Other threads only submit requests and
// read their per-request event channel (mutex + condition variable); they
// never touch the model.
//
// Determinism: each sequence has its own KV cache and seeded random stream,
// and ForwardRagged gives every sequence the logits it gets alone, so a
// request's tokens do not depend on what else is running.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "generate/histogram.h"
#include "generate/prefix_cache.h"
#include "generate/sequence.h"
#include "model/model.h"
#include "talkie/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace talkie::generate {

// One submitted request: n sequences from one prompt. Shared by the caller
// thread (reads events, may cancel) and the scheduler thread (writes events).
class Request {
 public:
  // hooks (optional): the request's steering; every config's hooks point at it.
  Request(std::vector<int32_t> prompt, std::vector<GenerationConfig> configs, int top_logprobs,
          bool logprobs, std::shared_ptr<const model::HookSet> hooks = nullptr);

  // Waits up to `timeout` for events and returns all pending ones. `*done`
  // becomes true once every sequence has delivered its finished event.
  std::vector<SequenceEvent> Wait(std::chrono::milliseconds timeout, bool* done);
  // Asks the scheduler to stop every sequence of this request and free them;
  // each still gets a finished event (reason kCancelled).
  void Cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

  const std::vector<int32_t>& prompt() const { return prompt_; }
  int n() const { return static_cast<int>(configs_.size()); }
  // Prompt tokens taken from the scheduler's prompt cache (known once the
  // first sequence has started; the n choices share them).
  int64_t cached_tokens() const { return cached_tokens_.load(); }

 private:
  friend class Scheduler;
  void Push(SequenceEvent event);

  const std::vector<int32_t> prompt_;
  const std::shared_ptr<const model::HookSet> hooks_;  // kept alive for configs_
  const std::vector<GenerationConfig> configs_;
  const int top_logprobs_;
  const bool logprobs_;
  const std::chrono::steady_clock::time_point submitted_ = std::chrono::steady_clock::now();
  int admitted_ = 0;  // sequences started (scheduler thread only)
  // n > 1: the first sequence's prompt cache and last prompt logits, right
  // after its prefill; the others start from it instead of prefilling the
  // same prompt again. Dropped once every sequence has started. Scheduler
  // thread only.
  struct PrefillSnapshot {
    model::KvCache cache;
    std::vector<float> logits;
  };
  std::unique_ptr<PrefillSnapshot> snapshot_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<SequenceEvent> events_;
  int unfinished_;
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> cached_tokens_{0};
};

class Scheduler {
 public:
  // Runs the scheduler thread's whole loop, `loop`, in some context (the
  // public API applies the model's engine settings around it).
  using ThreadWrapper = std::function<void(const std::function<void()>& loop)>;

  // Starts the scheduler thread. The model and tokenizer must outlive it.
  Scheduler(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
            SchedulerOptions options, ThreadWrapper wrapper = {});
  ~Scheduler();  // Shutdown()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request of configs.size() sequences (seeds set by the caller).
  // Returns nullptr when the queue is full or the scheduler is shutting down.
  // The prompt must be non-empty and shorter than the model's context.
  // hooks (optional): hooks (steering, capture) for this request's sequences.
  std::shared_ptr<Request> TrySubmit(std::vector<int32_t> prompt,
                                     std::vector<GenerationConfig> configs, int top_logprobs = 0,
                                     bool logprobs = false,
                                     std::shared_ptr<const model::HookSet> hooks = nullptr);

  // Cancels everything queued or running (each sequence gets its finished
  // event), stops the thread and joins it. Idempotent.
  void Shutdown();
  bool accepting() const { return !stopping_.load(); }

  SchedulerStats stats() const;
  // Counters, gauges and histograms (GET /metrics); thread-safe.
  SchedulerMetrics metrics() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Active {
    std::shared_ptr<Request> request;
    int index = 0;
    std::unique_ptr<Sequence> sequence;
    bool awaiting_prefill = false;  // a sibling waiting for the request's snapshot
    std::chrono::steady_clock::time_point last_token{};  // {}: none sampled yet
  };

  void Loop();
  void Step();
  // Samples `a`'s next token from `row` (modified in place) and sends the
  // event; frees the sequence when it is done.
  void Sample(Active& a, std::span<float> row);
  // Starts the siblings waiting for a snapshot that now exists.
  void StartFromSnapshots();
  // Ends `a` with a finished event (after Cancel() when it is not done yet).
  void Retire(Active& a, const std::string& error = "");
  // Metrics: a forward of `batch` sequences; a token of `a` sampled now
  // (time to first token, or the gap since its last one); the KV gauge.
  void RecordStep(int64_t batch);
  void RecordToken(Active& a);
  void RecordKvBytes();
  // A sequence that ended (not failed) leaves its cache to the prompt cache.
  void KeepCache(Active& a);

  const model::Model& model_;
  const tokenizer::Tokenizer& tokenizer_;
  const SchedulerOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> queue_;  // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::mutex join_mutex_;       // Shutdown() may race with the destructor
  std::vector<Active> active_;  // scheduler thread only
  PrefixCache prompt_cache_;    // scheduler thread only

  std::atomic<int64_t> active_count_{0}, requests_total_{0}, requests_rejected_{0}, steps_{0},
      generated_tokens_{0}, prefill_tokens_{0}, cached_tokens_{0}, cancelled_{0}, peak_active_{0};
  std::atomic<int64_t> prompt_tokens_{0}, last_batch_{0}, kv_bytes_{0}, prompt_cache_bytes_{0};
  Histogram ttft_{TimeToFirstTokenBuckets()}, inter_token_{InterTokenLatencyBuckets()},
      batch_sizes_{BatchSizeBuckets()};
  std::thread thread_;
};

}  // namespace talkie::generate
