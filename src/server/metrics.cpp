// Text exposition and the server's metric list (see metrics.h).
#include "server/metrics.h"

#include <charconv>
#include <cmath>

namespace talkie::server {

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<long long>(value));
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

void MetricsText::Header(std::string_view name, std::string_view help, std::string_view type) {
  // HELP text escapes backslash and newline (the format's only two).
  std::string escaped;
  for (char c : help) {
    if (c == '\\')
      escaped += "\\\\";
    else if (c == '\n')
      escaped += "\\n";
    else
      escaped += c;
  }
  text_.append("# HELP ").append(name).append(" ").append(escaped).append("\n");
  text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void MetricsText::Counter(std::string_view name, std::string_view help, double value) {
  Header(name, help, "counter");
  text_.append(name).append(" ").append(FormatMetricValue(value)).append("\n");
}

void MetricsText::Gauge(std::string_view name, std::string_view help, double value) {
  Header(name, help, "gauge");
  text_.append(name).append(" ").append(FormatMetricValue(value)).append("\n");
}

void MetricsText::Histogram(std::string_view name, std::string_view help,
                            const HistogramSnapshot& h) {
  Header(name, help, "histogram");
  for (size_t i = 0; i < h.cumulative.size(); ++i) {
    const std::string le =
        i < h.upper_bounds.size() ? FormatMetricValue(h.upper_bounds[i]) : std::string("+Inf");
    text_.append(name).append("_bucket{le=\"").append(le).append("\"} ");
    text_.append(FormatMetricValue(static_cast<double>(h.cumulative[i]))).append("\n");
  }
  text_.append(name).append("_sum ").append(FormatMetricValue(h.sum)).append("\n");
  text_.append(name).append("_count ");
  text_.append(FormatMetricValue(static_cast<double>(h.count))).append("\n");
}

std::string RenderMetrics(const SchedulerMetrics& m) {
  MetricsText t;
  auto d = [](int64_t v) { return static_cast<double>(v); };
  t.Counter("talkie_requests_total", "Generation requests accepted.", d(m.requests_total));
  t.Counter("talkie_requests_rejected_total",
            "Generation requests refused because the queue was full or the server was stopping.",
            d(m.requests_rejected));
  t.Counter("talkie_prompt_tokens_total", "Prompt tokens of the accepted requests.",
            d(m.prompt_tokens));
  t.Counter("talkie_prefill_tokens_total",
            "Prompt tokens run through the model (the n choices of a request share one prefill).",
            d(m.prefill_tokens));
  t.Counter("talkie_cached_prompt_tokens_total",
            "Prompt tokens taken from the prompt cache instead of run through the model.",
            d(m.cached_tokens));
  t.Counter("talkie_generated_tokens_total", "Tokens sampled, stop tokens included.",
            d(m.generated_tokens));
  t.Counter("talkie_sequences_cancelled_total",
            "Sequences stopped before their end (client gone, shutdown).",
            d(m.sequences_cancelled));
  t.Counter("talkie_steps_total", "Batched forward passes run.", d(m.steps));
  t.Gauge("talkie_queued_requests", "Requests waiting for a batch slot.", d(m.queued_requests));
  t.Gauge("talkie_active_sequences", "Sequences holding a KV cache.", d(m.active_sequences));
  t.Gauge("talkie_last_step_batch_size", "Sequences in the last forward pass.",
          d(m.last_batch_size));
  t.Gauge("talkie_kv_cache_bytes", "Bytes held by the KV caches of the active sequences.",
          d(m.kv_cache_bytes));
  t.Gauge("talkie_prompt_cache_bytes",
          "Bytes held by the prompt cache (KV caches of finished sequences kept for reuse).",
          d(m.prompt_cache_bytes));
  t.Histogram("talkie_time_to_first_token_seconds",
              "Seconds from a request's submission to the first sampled token of each of its "
              "sequences.",
              m.time_to_first_token);
  t.Histogram("talkie_inter_token_latency_seconds",
              "Seconds between two consecutive sampled tokens of a sequence.",
              m.inter_token_latency);
  t.Histogram("talkie_step_batch_size", "Sequences per forward pass.", m.step_batch_size);
  return t.text();
}

}  // namespace talkie::server
