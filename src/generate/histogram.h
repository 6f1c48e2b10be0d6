// A thread-safe histogram of cumulative buckets, filled by the scheduler
// (generate/scheduler.h) and read as a talkie::HistogramSnapshot; the bucket
// bounds of the scheduler's latency and batch-size histograms.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "talkie/scheduler.h"

namespace talkie::generate {

// Observe() takes one mutex and adds to one bucket, so any thread may
// record; snapshot() copies the state.
class Histogram {
 public:
  // upper_bounds: strictly increasing finite values (Error otherwise).
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts `value` in the first bucket whose bound is >= value (+Inf when
  // none) and adds it to the sum.
  void Observe(double value);
  HistogramSnapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; +Inf last
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// Bucket bounds of the scheduler's histograms.
std::vector<double> TimeToFirstTokenBuckets();   // seconds
std::vector<double> InterTokenLatencyBuckets();  // seconds
std::vector<double> BatchSizeBuckets();          // sequences

}  // namespace talkie::generate
