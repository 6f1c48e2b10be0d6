// The metrics of `talkie serve` (GET /metrics): a thread-safe histogram, the
// Prometheus text exposition format (version 0.0.4) and the list of what the
// server reports. The scheduler records; the HTTP layer renders a snapshot.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace talkie::server {

inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// A histogram of cumulative buckets. Observe() takes one mutex and adds to
// one bucket, so any thread may record; snapshot() copies the state.
class Histogram {
 public:
  struct Snapshot {
    std::vector<double> upper_bounds;  // finite, increasing; +Inf is implicit
    // [upper_bounds.size() + 1]: observations <= each bound, then all (+Inf).
    std::vector<uint64_t> cumulative;
    double sum = 0.0;
    uint64_t count = 0;
  };

  // upper_bounds: strictly increasing finite values (Error otherwise).
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts `value` in the first bucket whose bound is >= value (+Inf when
  // none) and adds it to the sum.
  void Observe(double value);
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; +Inf last
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// Bucket bounds of the server's histograms.
std::vector<double> TimeToFirstTokenBuckets();   // seconds
std::vector<double> InterTokenLatencyBuckets();  // seconds
std::vector<double> BatchSizeBuckets();          // sequences

// Builds a text exposition: every metric is "# HELP", "# TYPE" and its samples.
class MetricsText {
 public:
  void Counter(std::string_view name, std::string_view help, double value);
  void Gauge(std::string_view name, std::string_view help, double value);
  // name_bucket{le="..."} for every bound and +Inf, then name_sum, name_count.
  void Histogram(std::string_view name, std::string_view help, const Histogram::Snapshot& h);
  const std::string& text() const { return text_; }

 private:
  void Header(std::string_view name, std::string_view help, std::string_view type);
  std::string text_;
};

// A sample value as the format writes it: whole numbers below 10^15 as
// integers ("3"), others in the shortest form that reads back exactly
// ("0.25", "1e-05", "1e+21"), and +Inf, -Inf, NaN.
std::string FormatMetricValue(double value);

// Everything GET /metrics reports, gathered by the scheduler.
struct MetricsSnapshot {
  // Counters since the start.
  int64_t requests_total = 0;       // generation requests accepted
  int64_t requests_rejected = 0;    // refused: queue full or shutting down
  int64_t prompt_tokens = 0;        // prompt tokens of accepted requests
  int64_t prefill_tokens = 0;       // prompt tokens run through the model
  int64_t cached_tokens = 0;        // prompt tokens taken from the prompt cache instead
  int64_t generated_tokens = 0;     // tokens sampled (stop tokens included)
  int64_t sequences_cancelled = 0;  // stopped early (client gone, shutdown)
  int64_t steps = 0;                // batched forwards run
  // Gauges: now.
  int64_t queued_requests = 0;
  int64_t active_sequences = 0;
  int64_t last_batch_size = 0;              // sequences in the last forward
  int64_t kv_cache_bytes = 0;               // memory held by the active sequences' KV caches
  int64_t prompt_cache_bytes = 0;           // memory held by the prompt cache's finished caches
  Histogram::Snapshot time_to_first_token;  // seconds, submission -> first sampled token
  Histogram::Snapshot inter_token_latency;  // seconds between a sequence's tokens
  Histogram::Snapshot step_batch_size;      // sequences per forward
};

// The whole /metrics body: every name above with the talkie_ prefix.
std::string RenderMetrics(const MetricsSnapshot& m);

}  // namespace talkie::server
