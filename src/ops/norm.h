// RMS normalisation without a learned weight: y = x * rsqrt(mean(x^2) + eps).
// Talkie uses eps = 2^-23 (float32 machine epsilon, F.rms_norm's default).
#pragma once

#include <cstdint>

namespace talkie::ops {

inline constexpr float kRmsEps = 1.0f / 8388608.0f;  // 2^-23

// Normalises each of `rows` rows of length n, from x into y (may alias).
void RmsNormRows(const float* x, int64_t rows, int64_t n, float* y);

}  // namespace talkie::ops
