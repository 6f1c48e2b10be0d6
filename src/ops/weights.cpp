// Row widening for WeightMatrix (plain reference path).
#include "ops/weights.h"

#include "io/tensor.h"

namespace talkie::ops {

void WeightRowToFloat(const WeightMatrix& w, int64_t r, float* out) {
  const int64_t n = w.cols;
  switch (w.type) {
    case WeightType::kF32: {
      const float* p = static_cast<const float*>(w.data) + r * n;
      for (int64_t i = 0; i < n; ++i) out[i] = p[i];
      break;
    }
    case WeightType::kBF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + r * n;
      for (int64_t i = 0; i < n; ++i) out[i] = io::Bf16ToFloat(p[i]);
      break;
    }
    case WeightType::kF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + r * n;
      for (int64_t i = 0; i < n; ++i) out[i] = io::F16ToFloat(p[i]);
      break;
    }
  }
  if (w.has_scale)
    for (int64_t i = 0; i < n; ++i) out[i] *= w.scale;
}

}  // namespace talkie::ops
