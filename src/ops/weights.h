// A weight matrix as the kernels see it: rows x cols in its stored element
// type, row-major ([out_features, in_features], nn.Linear convention), never
// copied or widened ahead of time. An optional scale multiplies every element
// before use (the lm_head gain: the reference multiplies the matrix, and in
// float32 bf16 * bf16 is exact, so scaling each element keeps bit-parity).
#pragma once

#include <cstdint>
#include <cstring>

namespace talkie::ops {

enum class WeightType { kF32, kF16, kBF16 };

struct WeightMatrix {
  WeightType type = WeightType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  float scale = 1.0f;
  bool has_scale = false;
};

// Widens row r into out[cols] (applying the scale when present).
void WeightRowToFloat(const WeightMatrix& w, int64_t r, float* out);

}  // namespace talkie::ops
