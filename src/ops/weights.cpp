// Row widening and sizes for WeightMatrix (the plain reference path).
#include "ops/weights.h"

#include "common/number_formats.h"
#include "ops/ggml_blocks.h"

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
      for (int64_t i = 0; i < n; ++i) out[i] = Bf16ToFloat(p[i]);
      break;
    }
    case WeightType::kF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + r * n;
      for (int64_t i = 0; i < n; ++i) out[i] = F16ToFloat(p[i]);
      break;
    }
    case WeightType::kQ8: {
      const int8_t* q = static_cast<const int8_t*>(w.data) + r * n;
      const uint16_t* d = w.group_scales + r * (n / kQuantGroup);
      for (int64_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(q[i]) * F16ToFloat(d[i / kQuantGroup]);
      break;
    }
    case WeightType::kQ4: {
      const uint8_t* q = static_cast<const uint8_t*>(w.data) + r * (n / 2);
      const uint16_t* d = w.group_scales + r * (n / kQuantGroup);
      for (int64_t g = 0; g < n / kQuantGroup; ++g) {
        const float scale = F16ToFloat(d[g]);
        for (int64_t i = 0; i < 16; ++i) {
          const uint8_t byte = q[g * 16 + i];
          out[g * 32 + i] = static_cast<float>(static_cast<int>(byte & 15) - 8) * scale;
          out[g * 32 + i + 16] = static_cast<float>(static_cast<int>(byte >> 4) - 8) * scale;
        }
      }
      break;
    }
    default: {  // the ggml block types
      const GgmlBlockFormat f = GgmlBlock(w.type);
      const uint8_t* row = GgmlRow(w, r);
      for (int64_t b = 0; b < n / f.elems; ++b)
        DequantizeGgmlBlock(w.type, row + b * f.bytes, out + b * f.elems);
      if (w.negated_rows != nullptr && w.negated_rows[r] != 0)
        for (int64_t i = 0; i < n; ++i) out[i] = -out[i];
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
    default: {
      const GgmlBlockFormat f = GgmlBlock(w.type);
      return f.elems > 0 ? w.rows * (w.cols / f.elems) * f.bytes : 0;
    }
  }
  return 0;
}

}  // namespace talkie::ops
