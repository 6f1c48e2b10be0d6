// Quantization of float rows to the group-wise q8 / q4 formats (weights.h),
// for `talkie quantize` and the tests.
#pragma once

#include <cstdint>

#include "ops/weights.h"

namespace talkie::ops {

// Quantizes a float row of n values (n % 32 == 0) to q8 / q4: writes n (q8)
// or n / 2 (q4) bytes to q and n / 32 f16 scales. q8: d = max|x| / 127.
// q4: per group, the scale of least squared error among ten candidates around
// the extreme mapped to -8 (that rule included, so never worse than it), each
// refitted to its codes, keeping every value within max|x| / 8 of its original.
// Non-finite inputs: NaN -> 0, +-inf -> +-FLT_MAX (scales clamped to f16 range).
void QuantizeRowQ8(const float* x, int64_t n, int8_t* q, uint16_t* scales);
void QuantizeRowQ4(const float* x, int64_t n, uint8_t* q, uint16_t* scales);

}  // namespace talkie::ops
