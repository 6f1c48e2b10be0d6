// Plain reference RMS norm: float32 sum of squares in index order.
#include "ops/norm.h"

#include <cmath>

namespace talkie::ops {

void RmsNormRowsReference(const float* x, int64_t rows, int64_t n, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += xr[i] * xr[i];
    const float inv = 1.0f / std::sqrt(sum / static_cast<float>(n) + kRmsEps);
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * inv;
  }
}

}  // namespace talkie::ops
