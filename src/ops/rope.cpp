// RoPE tables and rotation. The table recipe (float powf / cosf / sinf, then
// round-to-nearest-even to bf16) reproduces the reference's buffers bit for bit.
#include "ops/rope.h"

#include <cmath>

#include "common/number_formats.h"

namespace talkie::ops {

RopeTable::RopeTable(int64_t head_dim, double theta, int64_t max_positions)
    : head_dim_(head_dim), max_positions_(max_positions) {
  const int64_t half = head_dim / 2;
  cos_.resize(static_cast<size_t>(max_positions * half));
  sin_.resize(cos_.size());
  const float base = static_cast<float>(theta);
  for (int64_t j = 0; j < half; ++j) {
    const float inv_freq =
        1.0f / powf(base, static_cast<float>(2 * j) / static_cast<float>(head_dim));
    for (int64_t p = 0; p < max_positions; ++p) {
      const float angle = static_cast<float>(p) * inv_freq;
      cos_[p * half + j] = Bf16ToFloat(FloatToBf16(cosf(angle)));
      sin_[p * half + j] = Bf16ToFloat(FloatToBf16(sinf(angle)));
    }
  }
}

void RopeTable::Apply(float* x, int64_t pos) const {
  const int64_t half = head_dim_ / 2;
  const float* c = cos(pos);
  const float* s = sin(pos);
  for (int64_t j = 0; j < half; ++j) {
    const float x1 = x[j];
    const float x2 = x[j + half];
    x[j] = x1 * c[j] + x2 * s[j];
    x[j + half] = -x1 * s[j] + x2 * c[j];
  }
}

}  // namespace talkie::ops
