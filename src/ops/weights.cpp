// Row widening for WeightMatrix (plain reference path).
#include "ops/weights.h"

#include <algorithm>
#include <cmath>

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
    case WeightType::kQ8: {
      const int8_t* q = static_cast<const int8_t*>(w.data) + r * n;
      const uint16_t* d = w.group_scales + r * (n / kQuantGroup);
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(q[i]) * io::F16ToFloat(d[i / kQuantGroup]);
      break;
    }
    case WeightType::kQ4: {
      const uint8_t* q = static_cast<const uint8_t*>(w.data) + r * (n / 2);
      const uint16_t* d = w.group_scales + r * (n / kQuantGroup);
      for (int64_t g = 0; g < n / kQuantGroup; ++g) {
        const float scale = io::F16ToFloat(d[g]);
        for (int64_t i = 0; i < 16; ++i) {
          const uint8_t byte = q[g * 16 + i];
          out[g * 32 + i] = static_cast<float>(static_cast<int>(byte & 15) - 8) * scale;
          out[g * 32 + i + 16] = static_cast<float>(static_cast<int>(byte >> 4) - 8) * scale;
        }
      }
      break;
    }
  }
  if (w.has_scale)
    for (int64_t i = 0; i < n; ++i) out[i] *= w.scale;
}

int64_t WeightBytes(const WeightMatrix& w) {
  switch (w.type) {
    case WeightType::kF32:
      return w.rows * w.cols * 4;
    case WeightType::kF16:
    case WeightType::kBF16:
      return w.rows * w.cols * 2;
    case WeightType::kQ8:
      return w.rows * w.cols + w.rows * (w.cols / kQuantGroup) * 2;
    case WeightType::kQ4:
      return w.rows * w.cols / 2 + w.rows * (w.cols / kQuantGroup) * 2;
  }
  return 0;
}

void QuantizeRowQ8(const float* x, int64_t n, int8_t* q, uint16_t* scales) {
  for (int64_t g = 0; g < n / kQuantGroup; ++g) {
    const float* v = x + g * kQuantGroup;
    float amax = 0.0f;
    for (int64_t i = 0; i < kQuantGroup; ++i) amax = std::max(amax, std::fabs(v[i]));
    const uint16_t d16 = io::FloatToF16(amax / 127.0f);
    scales[g] = d16;
    const float d = io::F16ToFloat(d16);  // quantize against the scale actually stored
    const float inv = d > 0.0f ? 1.0f / d : 0.0f;
    for (int64_t i = 0; i < kQuantGroup; ++i)
      q[g * kQuantGroup + i] =
          static_cast<int8_t>(std::clamp(std::nearbyint(v[i] * inv), -127.0f, 127.0f));
  }
}

void QuantizeRowQ4(const float* x, int64_t n, uint8_t* q, uint16_t* scales) {
  for (int64_t g = 0; g < n / kQuantGroup; ++g) {
    const float* v = x + g * kQuantGroup;
    float extreme = 0.0f;  // the value of largest magnitude, with its sign
    for (int64_t i = 0; i < kQuantGroup; ++i)
      if (std::fabs(v[i]) > std::fabs(extreme)) extreme = v[i];
    const uint16_t d16 = io::FloatToF16(extreme / -8.0f);
    scales[g] = d16;
    const float d = io::F16ToFloat(d16);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    auto code = [&](float value) {
      return static_cast<uint8_t>(std::clamp(std::nearbyint(value * inv) + 8.0f, 0.0f, 15.0f));
    };
    for (int64_t i = 0; i < 16; ++i)
      q[g * 16 + i] = static_cast<uint8_t>(code(v[i]) | (code(v[i + 16]) << 4));
  }
}

}  // namespace talkie::ops
