// The number formats (common/number_formats.h): half-precision conversions
// round-trip and round to nearest even; bf16 widens exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/number_formats.h"

namespace talkie {
namespace {

TEST(HalfTest, EveryFiniteHalfRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;  // inf / NaN
    EXPECT_EQ(FloatToF16(F16ToFloat(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

// The branch-free decoder of the matmul's group scales gives the general
// decoder's bits for every finite half (normal, subnormal, both zeros).
TEST(HalfTest, BranchFreeDecodeMatchesTheGeneralOneOnEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;  // inf / NaN
    const float a = F16ToFloat(static_cast<uint16_t>(h));
    const float b = F16ToFloatFinite(static_cast<uint16_t>(h));
    ASSERT_EQ(std::memcmp(&a, &b, sizeof a), 0) << std::hex << h;
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
}  // namespace talkie
