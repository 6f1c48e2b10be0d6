// The metrics of GET /metrics without a server: the exact text exposition
// of counters, gauges and histograms (HELP / TYPE lines, cumulative buckets,
// +Inf, _sum, _count) and value formatting. The histograms themselves are
// tested with the scheduler (tests/generate/histogram_test.cpp).
#include "server/metrics.h"

#include <gtest/gtest.h>

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
  // Observations 0.25, 0.5, 0.75 and 3 with bounds 0.5, 1, 2.5.
  const HistogramSnapshot h = {{0.5, 1, 2.5}, {2, 3, 3, 4}, 4.5, 4};
  MetricsText t;
  t.Counter("x_total", "Things done.", 42);
  t.Gauge("x_depth", "A depth\\with a\nnewline.", 1.5);
  t.Histogram("x_seconds", "Durations.", h);
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

TEST(MetricsTest, ServerMetricsRenderEveryNameWithHelpAndType) {
  SchedulerMetrics m;
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
  // One observation each: 0.05 s, 0.02 s and a batch of 2.
  m.time_to_first_token = {{0.1}, {1, 1}, 0.05, 1};
  m.inter_token_latency = {{0.01}, {0, 1}, 0.02, 1};
  m.step_batch_size = {{1, 2}, {0, 1, 1}, 2, 1};
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

}  // namespace
}  // namespace talkie::server
