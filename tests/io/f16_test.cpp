// Half-precision conversions round-trip and round to nearest even.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/tensor.h"

namespace talkie::io {
namespace {

TEST(HalfTest, EveryFiniteHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;  // inf / NaN
    EXPECT_EQ(FloatToF16(F16ToFloat(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(HalfTest, RoundsToNearestEvenAndSaturatesToInfinity) {
  EXPECT_EQ(FloatToF16(1.0f + 1.0f / 2048.0f), 0x3c00);  // tie -> even
  EXPECT_EQ(FloatToF16(1.0f + 3.0f / 2048.0f), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(FloatToF16(70000.0f), 0x7c00);
  EXPECT_EQ(FloatToF16(-70000.0f), 0xfc00);
  EXPECT_EQ(FloatToF16(65504.0f), 0x7bff);
  EXPECT_TRUE(std::isnan(F16ToFloat(FloatToF16(NAN))));
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f)), 1.0f);
}

}  // namespace
}  // namespace talkie::io
