// Thread-count settings: a scope changes only its own thread, and nests.
#include <thread>

#include <gtest/gtest.h>

#include "ops/matmul_lowp.h"
#include "ops/parallel.h"

namespace talkie::ops {
namespace {

TEST(Parallel, ScopedNumThreadsIsPerThreadAndNests) {
  SetNumThreads(3);
  EXPECT_EQ(NumThreads(), 3);
  {
    ScopedNumThreads one(1);
    EXPECT_EQ(NumThreads(), 1);
    int other = 0;
    std::thread([&] { other = NumThreads(); }).join();
    EXPECT_EQ(other, 3);  // another thread keeps the process default
    {
      ScopedNumThreads two(2);
      EXPECT_EQ(NumThreads(), 2);
    }
    EXPECT_EQ(NumThreads(), 1);
  }
  EXPECT_EQ(NumThreads(), 3);
  SetNumThreads(0);
}

TEST(Parallel, ScopedLowPrecisionPathIsPerThread) {
  const std::string best = LowPrecisionPath(WeightType::kQ8);
  {
    ScopedLowPrecisionPath portable("portable");
    EXPECT_STREQ(LowPrecisionPath(WeightType::kQ8), "portable");
    std::string other;
    std::thread([&] { other = LowPrecisionPath(WeightType::kQ8); }).join();
    EXPECT_EQ(other, best);
  }
  EXPECT_EQ(LowPrecisionPath(WeightType::kQ8), best);
  EXPECT_THROW(ScopedLowPrecisionPath("AVX9"), std::exception);
}

}  // namespace
}  // namespace talkie::ops
