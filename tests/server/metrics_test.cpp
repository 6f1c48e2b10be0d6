// The metrics of GET /metrics without a server: the exact text exposition
// of counters, gauges and histograms (HELP / TYPE lines, cumulative buckets
// with inclusive bounds, +Inf, _sum, _count), value formatting, and a
// histogram that stays consistent when many threads record at once.
#include "server/metrics.h"

#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"

namespace talkie::server {
namespace {

TEST(MetricsTest, ValuesAreFormattedAsPrometheusReadsThem) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(-7), "-7");
  EXPECT_EQ(FormatMetricValue(123456789012), "123456789012");
  EXPECT_EQ(FormatMetricValue(0.25), "0.25");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e-05), "1e-05");
  EXPECT_EQ(FormatMetricValue(1e21), "1e+21");
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatMetricValue(0.0 / 0.0), "NaN");
}

TEST(MetricsTest, CounterGaugeAndHistogramRenderExactly) {
  Histogram h({0.5, 1, 2.5});
  for (double v : {0.25, 0.5, 0.75, 3.0}) h.Observe(v);
  MetricsText t;
  t.Counter("x_total", "Things done.", 42);
  t.Gauge("x_depth", "A depth\\with a\nnewline.", 1.5);
  t.Histogram("x_seconds", "Durations.", h.snapshot());
  EXPECT_EQ(t.text(),
            "# HELP x_total Things done.\n"
            "# TYPE x_total counter\n"
            "x_total 42\n"
            "# HELP x_depth A depth\\\\with a\\nnewline.\n"
            "# TYPE x_depth gauge\n"
            "x_depth 1.5\n"
            "# HELP x_seconds Durations.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.5\"} 2\n"
            "x_seconds_bucket{le=\"1\"} 3\n"
            "x_seconds_bucket{le=\"2.5\"} 3\n"
            "x_seconds_bucket{le=\"+Inf\"} 4\n"
            "x_seconds_sum 4.5\n"
            "x_seconds_count 4\n");
}

TEST(MetricsTest, HistogramBoundsAreInclusiveAndBucketsCumulative) {
  Histogram h({1, 2});
  Histogram::Snapshot empty = h.snapshot();
  EXPECT_EQ(empty.cumulative, (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.sum, 0.0);
  h.Observe(1);    // on a bound: counted in it (le = "less or equal")
  h.Observe(2);    // the second bound
  h.Observe(2.5);  // beyond every bound: +Inf only
  h.Observe(-1);   // below the first
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{1, 2}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum, 4.5);
}

TEST(MetricsTest, HistogramRefusesBoundsThatAreNotIncreasingAndFinite) {
  EXPECT_THROW(Histogram({1, 1}), Error);
  EXPECT_THROW(Histogram({2, 1}), Error);
  EXPECT_THROW(Histogram({1, 1.0 / 0.0}), Error);
  EXPECT_NO_THROW(Histogram({}));
}

TEST(MetricsTest, ConcurrentObservationsAreAllCounted) {
  Histogram h(BatchSizeBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.Observe(static_cast<double>(1 + (i + t) % 8));
    });
  for (std::thread& t : threads) t.join();
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative.back(), 40000u);
  // Values 1..8, 5000 of each: 1, then 2, then 3-4, then 5-8.
  EXPECT_EQ(s.cumulative[0], 5000u);   // le 1
  EXPECT_EQ(s.cumulative[1], 10000u);  // le 2
  EXPECT_EQ(s.cumulative[2], 20000u);  // le 4
  EXPECT_EQ(s.cumulative[3], 40000u);  // le 8
  EXPECT_EQ(s.sum, 5000.0 * 36);
}

TEST(MetricsTest, ServerMetricsRenderEveryNameWithHelpAndType) {
  MetricsSnapshot m;
  m.requests_total = 5;
  m.requests_rejected = 1;
  m.prompt_tokens = 40;
  m.prefill_tokens = 30;
  m.cached_tokens = 10;
  m.generated_tokens = 64;
  m.sequences_cancelled = 2;
  m.steps = 30;
  m.queued_requests = 3;
  m.active_sequences = 4;
  m.last_batch_size = 4;
  m.kv_cache_bytes = 1048576;
  m.prompt_cache_bytes = 2048;
  Histogram ttft({0.1}), gap({0.01}), batch({1, 2});
  ttft.Observe(0.05);
  gap.Observe(0.02);
  batch.Observe(2);
  m.time_to_first_token = ttft.snapshot();
  m.inter_token_latency = gap.snapshot();
  m.step_batch_size = batch.snapshot();
  EXPECT_EQ(
      RenderMetrics(m),
      "# HELP talkie_requests_total Generation requests accepted.\n"
      "# TYPE talkie_requests_total counter\n"
      "talkie_requests_total 5\n"
      "# HELP talkie_requests_rejected_total Generation requests refused because the queue was "
      "full or the server was stopping.\n"
      "# TYPE talkie_requests_rejected_total counter\n"
      "talkie_requests_rejected_total 1\n"
      "# HELP talkie_prompt_tokens_total Prompt tokens of the accepted requests.\n"
      "# TYPE talkie_prompt_tokens_total counter\n"
      "talkie_prompt_tokens_total 40\n"
      "# HELP talkie_prefill_tokens_total Prompt tokens run through the model (the n choices of "
      "a request share one prefill).\n"
      "# TYPE talkie_prefill_tokens_total counter\n"
      "talkie_prefill_tokens_total 30\n"
      "# HELP talkie_cached_prompt_tokens_total Prompt tokens taken from the prompt cache instead "
      "of run through the model.\n"
      "# TYPE talkie_cached_prompt_tokens_total counter\n"
      "talkie_cached_prompt_tokens_total 10\n"
      "# HELP talkie_generated_tokens_total Tokens sampled, stop tokens included.\n"
      "# TYPE talkie_generated_tokens_total counter\n"
      "talkie_generated_tokens_total 64\n"
      "# HELP talkie_sequences_cancelled_total Sequences stopped before their end (client gone, "
      "shutdown).\n"
      "# TYPE talkie_sequences_cancelled_total counter\n"
      "talkie_sequences_cancelled_total 2\n"
      "# HELP talkie_steps_total Batched forward passes run.\n"
      "# TYPE talkie_steps_total counter\n"
      "talkie_steps_total 30\n"
      "# HELP talkie_queued_requests Requests waiting for a batch slot.\n"
      "# TYPE talkie_queued_requests gauge\n"
      "talkie_queued_requests 3\n"
      "# HELP talkie_active_sequences Sequences holding a KV cache.\n"
      "# TYPE talkie_active_sequences gauge\n"
      "talkie_active_sequences 4\n"
      "# HELP talkie_last_step_batch_size Sequences in the last forward pass.\n"
      "# TYPE talkie_last_step_batch_size gauge\n"
      "talkie_last_step_batch_size 4\n"
      "# HELP talkie_kv_cache_bytes Bytes held by the KV caches of the active sequences.\n"
      "# TYPE talkie_kv_cache_bytes gauge\n"
      "talkie_kv_cache_bytes 1048576\n"
      "# HELP talkie_prompt_cache_bytes Bytes held by the prompt cache (KV caches of finished "
      "sequences kept for reuse).\n"
      "# TYPE talkie_prompt_cache_bytes gauge\n"
      "talkie_prompt_cache_bytes 2048\n"
      "# HELP talkie_time_to_first_token_seconds Seconds from a request's submission to the "
      "first sampled token of each of its sequences.\n"
      "# TYPE talkie_time_to_first_token_seconds histogram\n"
      "talkie_time_to_first_token_seconds_bucket{le=\"0.1\"} 1\n"
      "talkie_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1\n"
      "talkie_time_to_first_token_seconds_sum 0.05\n"
      "talkie_time_to_first_token_seconds_count 1\n"
      "# HELP talkie_inter_token_latency_seconds Seconds between two consecutive sampled tokens "
      "of a sequence.\n"
      "# TYPE talkie_inter_token_latency_seconds histogram\n"
      "talkie_inter_token_latency_seconds_bucket{le=\"0.01\"} 0\n"
      "talkie_inter_token_latency_seconds_bucket{le=\"+Inf\"} 1\n"
      "talkie_inter_token_latency_seconds_sum 0.02\n"
      "talkie_inter_token_latency_seconds_count 1\n"
      "# HELP talkie_step_batch_size Sequences per forward pass.\n"
      "# TYPE talkie_step_batch_size histogram\n"
      "talkie_step_batch_size_bucket{le=\"1\"} 0\n"
      "talkie_step_batch_size_bucket{le=\"2\"} 1\n"
      "talkie_step_batch_size_bucket{le=\"+Inf\"} 1\n"
      "talkie_step_batch_size_sum 2\n"
      "talkie_step_batch_size_count 1\n");
}

TEST(MetricsTest, ServerBucketBoundsAreIncreasing) {
  for (const auto& bounds :
       {TimeToFirstTokenBuckets(), InterTokenLatencyBuckets(), BatchSizeBuckets()}) {
    ASSERT_FALSE(bounds.empty());
    for (size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);
    EXPECT_NO_THROW(Histogram{bounds});
  }
}

}  // namespace
}  // namespace talkie::server
