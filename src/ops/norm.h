// RMS normalisation without a learned weight: y = x * rsqrt(mean(x^2) + eps).
// Talkie uses eps = 2^-23 (float32 machine epsilon, F.rms_norm's default).
#pragma once

#include <cstdint>

namespace talkie::ops {

inline constexpr float kRmsEps = 1.0f / 8388608.0f;  // 2^-23

// Normalises each of `rows` rows of length n, from x into y (may alias). The
// SIMD kernel for the CPU (runtime dispatch; norm_simd.cpp).
// Determinism: each row's sum of squares is added in one fixed order that
// depends only on n and the SIMD target (per-lane accumulators, then lanes in
// index order), never on `rows` or the thread count; then
// inv = 1 / sqrt(sum / n + eps) and y = x * inv, as in the reference.
void RmsNormRows(const float* x, int64_t rows, int64_t n, float* y);

// The plain reference: float32 sum of squares in index order, then the same formula.
void RmsNormRowsReference(const float* x, int64_t rows, int64_t n, float* y);

}  // namespace talkie::ops
