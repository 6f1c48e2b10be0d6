// talkie::Scheduler: continuous batching, the engine behind `talkie serve`.
// One thread owns the model and steps every active sequence together (the
// decode rows and the prefill chunks of newly admitted requests in one
// forward), admits queued requests between steps and frees finished or
// cancelled ones at once. Callers submit requests from any thread and read
// each request's events as they come.
//
//   talkie::Scheduler sched(model, tok, {.max_batch = 8});
//   talkie::GenerateOptions opt;
//   opt.max_new_tokens = 32;
//   std::shared_ptr<talkie::ScheduledRequest> r = sched.TrySubmit(tok.Encode("It was"), {opt});
//   bool done = false;
//   while (!done)
//     for (const talkie::SequenceEvent& e : r->Wait(std::chrono::milliseconds(100), &done))
//       std::cout << e.text;
//
// Guarantees: every sequence has its own KV cache and seeded random stream
// and gets the logits it gets alone, so a request's tokens never depend on
// what else runs; a prompt-cache hit (a request starting with tokens a
// finished sequence held) gives the same bits as a whole prefill; n > 1
// choices of one prompt share one prefill and get what n requests would.
//
// Thread safety: TrySubmit, Shutdown, stats and metrics may be called from
// any thread at once; a ScheduledRequest may be waited on and cancelled from
// any thread (one waiter at a time receives each event). The model runs, and
// a request's hook functions are called, on the scheduler's own thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "talkie/export.h"
#include "talkie/generate.h"
#include "talkie/hooks.h"

namespace talkie {

namespace generate {
class Request;
class Scheduler;
}  // namespace generate

class Model;
class Tokenizer;

// Log-probability of one generated token and its top alternatives, from the
// log-softmax of the raw model logits (before penalties and temperature).
struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;  // most likely first, ties by id
};

// What a sequence produced in one scheduler step, or how it ended.
struct SequenceEvent {
  int index = 0;                       // which of the request's n sequences
  std::string text;                    // text that became final this step
  std::vector<int32_t> ids;            // tokens sampled this step (stop tokens excluded)
  std::vector<TokenLogprob> logprobs;  // one per id, when asked for
  bool finished = false;
  FinishReason finish = FinishReason::kLength;
  int64_t completion_tokens = 0;  // with finished: tokens generated in all
  std::string error;              // non-empty: the sequence failed (its finish is kCancelled)
};

struct SchedulerOptions {
  int64_t max_batch = 8;        // most sequences stepped together
  int64_t max_queue = 64;       // most requests waiting for admission
  int64_t prefill_chunk = 256;  // most prompt tokens a sequence feeds per step
  // Finished sequences' KV caches kept for requests that start with the same
  // tokens (under the same Hooks object); 0 disables the reuse.
  int64_t prompt_cache_bytes = int64_t{1} << 30;
};

struct SchedulerStats {
  int64_t active_sequences = 0;       // sequences holding a KV cache
  int64_t queued_requests = 0;        // requests not yet fully admitted
  int64_t requests_total = 0;         // accepted since start
  int64_t requests_rejected = 0;      // refused because the queue was full
  int64_t steps = 0;                  // forwards run
  int64_t generated_tokens = 0;       // tokens sampled
  int64_t prefill_tokens = 0;         // prompt tokens fed (n > 1 choices share one prefill)
  int64_t cached_tokens = 0;          // prompt tokens taken from the prompt cache instead
  int64_t sequences_cancelled = 0;    // stopped early (Cancel, shutdown)
  int64_t peak_active_sequences = 0;  // most sequences ever stepped together
};

// A histogram of cumulative buckets, as Prometheus exposes one.
struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // finite, increasing; +Inf is implicit
  // [upper_bounds.size() + 1]: observations <= each bound, then all (+Inf).
  std::vector<uint64_t> cumulative;
  double sum = 0.0;
  uint64_t count = 0;
};

// Counters, gauges and latency histograms (what GET /metrics reports).
struct SchedulerMetrics {
  // Counters since the start.
  int64_t requests_total = 0;       // requests accepted
  int64_t requests_rejected = 0;    // refused: queue full or shutting down
  int64_t prompt_tokens = 0;        // prompt tokens of accepted requests
  int64_t prefill_tokens = 0;       // prompt tokens run through the model
  int64_t cached_tokens = 0;        // prompt tokens taken from the prompt cache instead
  int64_t generated_tokens = 0;     // tokens sampled (stop tokens included)
  int64_t sequences_cancelled = 0;  // stopped early (Cancel, shutdown)
  int64_t steps = 0;                // batched forwards run
  // Gauges: now.
  int64_t queued_requests = 0;
  int64_t active_sequences = 0;
  int64_t last_batch_size = 0;            // sequences in the last forward
  int64_t kv_cache_bytes = 0;             // memory held by the active sequences' KV caches
  int64_t prompt_cache_bytes = 0;         // memory held by the prompt cache's finished caches
  HistogramSnapshot time_to_first_token;  // seconds, submission -> first sampled token
  HistogramSnapshot inter_token_latency;  // seconds between a sequence's tokens
  HistogramSnapshot step_batch_size;      // sequences per forward
};

// One submitted request: n sequences from one prompt.
class TALKIE_API ScheduledRequest {
 public:
  ~ScheduledRequest();
  ScheduledRequest(const ScheduledRequest&) = delete;
  ScheduledRequest& operator=(const ScheduledRequest&) = delete;

  // Waits up to `timeout` for events and returns all pending ones (in the
  // order the scheduler made them). `*done` becomes true once every sequence
  // has delivered its finished event.
  std::vector<SequenceEvent> Wait(std::chrono::milliseconds timeout, bool* done);
  // Asks the scheduler to stop every sequence of this request and free them
  // (from any thread; harmless once finished); each still gets a finished
  // event, with reason kCancelled when it had not ended.
  void Cancel();
  bool cancelled() const;

  const std::vector<int32_t>& prompt() const;
  int n() const;
  // Prompt tokens taken from the scheduler's prompt cache (known once the
  // first sequence has started; the n choices share them).
  int64_t cached_tokens() const;

 private:
  friend class Scheduler;
  explicit ScheduledRequest(std::shared_ptr<generate::Request> impl);
  std::shared_ptr<generate::Request> impl_;
};

class TALKIE_API Scheduler {
 public:
  // Starts the scheduler thread, which runs under the model's engine
  // settings. The model and tokenizer must outlive the scheduler. Throws
  // Error for options out of range (naming the field).
  Scheduler(const Model& model, const Tokenizer& tokenizer, SchedulerOptions options = {});
  ~Scheduler();  // Shutdown()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request of options.size() sequences (each with its own seed,
  // sampling and stops; GenerateOptions::prefill_chunk is unused: the
  // scheduler's applies). Returns nullptr when the queue is full or the
  // scheduler is shutting down. Throws Error for no options, bad options
  // (as Generate), an empty prompt, or options that set
  // GenerateOptions::hooks: a request's hooks are `hooks`, shared by its
  // sequences and kept alive by the request (prompt-cache entries are reused
  // only by requests passing the same Hooks object). A prompt the model
  // cannot run (not shorter than the context, an id outside the vocabulary)
  // ends its sequences with an event whose `error` says why.
  // logprobs: events carry each token's TokenLogprob, with top_logprobs
  // alternatives.
  std::shared_ptr<ScheduledRequest> TrySubmit(std::vector<int32_t> prompt,
                                              const std::vector<GenerateOptions>& options,
                                              int top_logprobs = 0, bool logprobs = false,
                                              std::shared_ptr<const Hooks> hooks = nullptr);

  // Cancels everything queued or running (each sequence gets its finished
  // event), stops the thread and joins it. Idempotent.
  void Shutdown();
  bool accepting() const;

  SchedulerStats stats() const;
  SchedulerMetrics metrics() const;
  const SchedulerOptions& options() const;

 private:
  std::unique_ptr<generate::Scheduler> impl_;
};

}  // namespace talkie
