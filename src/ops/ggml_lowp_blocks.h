// The fast policy's view of the ggml block types it has integer kernels for
// (Q4_K, Q5_0, Q6_K): per group of 32 values, w_t = a[t / 16] * (u_t - offset)
// + b with u_t an unsigned stored code (u8, at most 63, so every 4-term
// u8 x s8 dot product is exact on every path), a per half group, b a per-group
// min (Q4_K only). Shared by the portable twin and the x86 kernels.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/number_formats.h"
#include "ops/ggml_blocks.h"

namespace talkie::ops::lowp {

inline bool GgmlHasInt8Kernel(WeightType t) {
  return t == WeightType::kQ4_K || t == WeightType::kQ5_0 || t == WeightType::kQ6_K;
}
// Subtracted from the stored codes: Q5_0 16, Q6_K 32.
inline int GgmlCodeOffset(WeightType t) {
  return t == WeightType::kQ5_0 ? 16 : t == WeightType::kQ6_K ? 32 : 0;
}
inline bool GgmlHasMin(WeightType t) { return t == WeightType::kQ4_K; }

// a[g][half] and b[g] for the groups of one block (8 groups of a K block, 1
// of a Q5_0 block), as the exact dequantizer computes its scales: Q4_K
// a = d * sc, b = -(dmin * m); Q5_0 a = d; Q6_K a = d * scale[2g + half].
struct GgmlGroupConsts {
  float a[8][2];
  float b[8];
};

inline float GgmlF16At(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToFloat(h);
}

inline void GgmlBlockConsts(WeightType t, const uint8_t* block, GgmlGroupConsts* c) {
  if (t == WeightType::kQ5_0) {
    c->a[0][0] = c->a[0][1] = GgmlF16At(block);
    c->b[0] = 0.0f;
    return;
  }
  if (t == WeightType::kQ6_K) {
    const float d = GgmlF16At(block + 208);
    const auto* scales = reinterpret_cast<const int8_t*>(block + 192);
    for (int g = 0; g < 8; ++g) {
      for (int h = 0; h < 2; ++h) c->a[g][h] = d * static_cast<float>(scales[2 * g + h]);
      c->b[g] = 0.0f;
    }
    return;
  }
  const float d = GgmlF16At(block), dmin = GgmlF16At(block + 2);
  for (int g = 0; g < 8; ++g) {
    int sc, mn;
    GgmlK4ScaleMin(block + 4, g, &sc, &mn);
    c->a[g][0] = c->a[g][1] = d * static_cast<float>(sc);
    c->b[g] = -(dmin * static_cast<float>(mn));
  }
}

// The 32 unsigned codes of group g of a block (the plain way; the x86
// kernels unpack the same bytes with vector code).
inline void GgmlGroupCodes(WeightType t, const uint8_t* block, int g, uint8_t* u) {
  if (t == WeightType::kQ5_0) {
    uint32_t bits;
    std::memcpy(&bits, block + 2, 4);
    for (int i = 0; i < 16; ++i) {
      u[i] = static_cast<uint8_t>((block[6 + i] & 15) | (((bits >> i) & 1) << 4));
      u[i + 16] = static_cast<uint8_t>((block[6 + i] >> 4) | (((bits >> (i + 16)) & 1) << 4));
    }
    return;
  }
  if (t == WeightType::kQ6_K) {
    const int h = g / 4, s = g % 4;
    for (int l = 0; l < 32; ++l) {
      const uint8_t low = block[64 * h + 32 * (s % 2) + l];
      const int high = (block[128 + 32 * h + l] >> (2 * s)) & 3;
      u[l] = static_cast<uint8_t>((s < 2 ? low & 15 : low >> 4) | (high << 4));
    }
    return;
  }
  for (int l = 0; l < 32; ++l) {
    const uint8_t byte = block[16 + 32 * (g / 2) + l];
    u[l] = static_cast<uint8_t>(g % 2 == 0 ? byte & 15 : byte >> 4);
  }
}

}  // namespace talkie::ops::lowp
