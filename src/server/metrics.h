// The metrics of `talkie serve` (GET /metrics): the Prometheus text
// exposition format (version 0.0.4) and the list of what the server reports.
// The scheduler records (talkie::SchedulerMetrics); the HTTP layer renders.
#pragma once

#include <string>
#include <string_view>

#include "talkie/scheduler.h"

namespace talkie::server {

inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// Builds a text exposition: every metric is "# HELP", "# TYPE" and its samples.
class MetricsText {
 public:
  void Counter(std::string_view name, std::string_view help, double value);
  void Gauge(std::string_view name, std::string_view help, double value);
  // name_bucket{le="..."} for every bound and +Inf, then name_sum, name_count.
  void Histogram(std::string_view name, std::string_view help, const HistogramSnapshot& h);
  const std::string& text() const { return text_; }

 private:
  void Header(std::string_view name, std::string_view help, std::string_view type);
  std::string text_;
};

// A sample value as the format writes it: whole numbers below 10^15 as
// integers ("3"), others in the shortest form that reads back exactly
// ("0.25", "1e-05", "1e+21"), and +Inf, -Inf, NaN.
std::string FormatMetricValue(double value);

// The whole /metrics body: every field of SchedulerMetrics with the talkie_ prefix.
std::string RenderMetrics(const SchedulerMetrics& m);

}  // namespace talkie::server
