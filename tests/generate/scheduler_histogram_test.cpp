// The scheduler's histograms (GET /metrics renders them): inclusive bounds,
// cumulative buckets, refused bounds, and counts that stay consistent when
// many threads record at once.
#include "generate/histogram.h"

#include <thread>

#include <gtest/gtest.h>

#include "common/error.h"

namespace talkie::generate {
namespace {

TEST(HistogramTest, BoundsAreInclusiveAndBucketsCumulative) {
  Histogram h({1, 2});
  HistogramSnapshot empty = h.snapshot();
  EXPECT_EQ(empty.cumulative, (std::vector<uint64_t>{0, 0, 0}));
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(empty.sum, 0.0);
  h.Observe(1);    // on a bound: counted in it (le = "less or equal")
  h.Observe(2);    // the second bound
  h.Observe(2.5);  // beyond every bound: +Inf only
  h.Observe(-1);   // below the first
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{1, 2}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.sum, 4.5);
}

TEST(HistogramTest, RefusesBoundsThatAreNotIncreasingAndFinite) {
  EXPECT_THROW(Histogram({1, 1}), Error);
  EXPECT_THROW(Histogram({2, 1}), Error);
  EXPECT_THROW(Histogram({1, 1.0 / 0.0}), Error);
  EXPECT_NO_THROW(Histogram({}));
}

TEST(HistogramTest, ConcurrentObservationsAreAllCounted) {
  Histogram h(BatchSizeBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.Observe(static_cast<double>(1 + (i + t) % 8));
    });
  for (std::thread& t : threads) t.join();
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(s.cumulative.back(), 40000u);
  // Values 1..8, 5000 of each: 1, then 2, then 3-4, then 5-8.
  EXPECT_EQ(s.cumulative[0], 5000u);   // le 1
  EXPECT_EQ(s.cumulative[1], 10000u);  // le 2
  EXPECT_EQ(s.cumulative[2], 20000u);  // le 4
  EXPECT_EQ(s.cumulative[3], 40000u);  // le 8
  EXPECT_EQ(s.sum, 5000.0 * 36);
}

TEST(HistogramTest, SchedulerBucketBoundsAreIncreasing) {
  for (const auto& bounds :
       {TimeToFirstTokenBuckets(), InterTokenLatencyBuckets(), BatchSizeBuckets()}) {
    ASSERT_FALSE(bounds.empty());
    for (size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);
    EXPECT_NO_THROW(Histogram{bounds});
  }
}

}  // namespace
}  // namespace talkie::generate
