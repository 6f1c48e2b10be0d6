// The plain dequantizers of ggml's block formats (see ggml_blocks.h). Each
// line mirrors one numpy expression of gguf-py's quants.py, in float32, in
// its order; CMakeLists.txt compiles this file with -ffp-contract=off so
// that no multiply and add are fused.
#include "ops/ggml_blocks.h"

#include <cstring>

#include "common/number_formats.h"

namespace talkie::ops {
namespace {

float F16At(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToFloat(h);
}

// 32 4-bit codes: element i in the low nibble of byte i, i + 16 in the high.
void Nibbles32(const uint8_t* qs, int* q) {
  for (int i = 0; i < 16; ++i) {
    q[i] = qs[i] & 15;
    q[i + 16] = qs[i] >> 4;
  }
}

// The fifth bit of Q5_0 / Q5_1 code i: bit i of a little-endian uint32.
void AddHighBits(const uint8_t* qh, int* q) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  for (int i = 0; i < 32; ++i) q[i] |= static_cast<int>((bits >> i) & 1) << 4;
}

// Q4_K / Q5_K: sub-block j holds the low (j even) or high (j odd) nibbles of
// qs[32 * (j / 2) ..][0, 32); Q5_K adds bit j of qh[l] as the fifth bit.
void DequantizeK(const uint8_t* b, bool five_bits, float* out) {
  const float d = F16At(b), dmin = F16At(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = five_bits ? b + 48 : b + 16;
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    GgmlK4ScaleMin(scales, j, &sc, &mn);
    const float ds = d * static_cast<float>(sc);
    const float ms = dmin * static_cast<float>(mn);
    for (int l = 0; l < 32; ++l) {
      const uint8_t byte = qs[32 * (j / 2) + l];
      int q = j % 2 == 0 ? byte & 15 : byte >> 4;
      if (five_bits) q |= ((qh[l] >> j) & 1) << 4;
      const float dq = ds * static_cast<float>(q);
      out[32 * j + l] = dq - ms;
    }
  }
}

// Q6_K: ql[128], qh[64], int8 scales[16], f16 d. Chunk t (0..7) of 32 values
// in half h = t / 4, quarter s = t % 4: low bits from the low (s < 2) or high
// nibble of ql[64h + 32(s % 2) + l], high bits (qh[32h + l] >> 2s) & 3.
void DequantizeQ6K(const uint8_t* b, float* out) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = F16At(b + 208);
  for (int t = 0; t < 8; ++t) {
    const int h = t / 4, s = t % 4;
    for (int l = 0; l < 32; ++l) {
      const uint8_t low = ql[64 * h + 32 * (s % 2) + l];
      const int q = ((s < 2 ? low & 15 : low >> 4) | (((qh[32 * h + l] >> (2 * s)) & 3) << 4)) - 32;
      const int e = 32 * t + l;
      const float ds = d * static_cast<float>(scales[e / 16]);
      out[e] = ds * static_cast<float>(q);
    }
  }
}

}  // namespace

bool IsGgmlBlockType(WeightType type) { return GgmlBlock(type).elems > 0; }

GgmlBlockFormat GgmlBlock(WeightType type) {
  switch (type) {
    case WeightType::kQ4_1:
      return {32, 20, "Q4_1"};
    case WeightType::kQ5_0:
      return {32, 22, "Q5_0"};
    case WeightType::kQ5_1:
      return {32, 24, "Q5_1"};
    case WeightType::kIQ4_NL:
      return {32, 18, "IQ4_NL"};
    case WeightType::kQ4_K:
      return {256, 144, "Q4_K"};
    case WeightType::kQ5_K:
      return {256, 176, "Q5_K"};
    case WeightType::kQ6_K:
      return {256, 210, "Q6_K"};
    default:
      return {};
  }
}

bool GgmlBlockTypeFromName(std::string_view name, WeightType* type) {
  for (WeightType t : kGgmlBlockTypes) {
    if (name != GgmlBlock(t).name) continue;
    *type = t;
    return true;
  }
  return false;
}

void DequantizeGgmlBlock(WeightType type, const uint8_t* b, float* out) {
  int q[32];
  switch (type) {
    case WeightType::kQ4_1: {
      const float d = F16At(b), m = F16At(b + 2);
      Nibbles32(b + 4, q);
      for (int i = 0; i < 32; ++i) {
        const float dq = d * static_cast<float>(q[i]);
        out[i] = dq + m;
      }
      return;
    }
    case WeightType::kQ5_0: {
      const float d = F16At(b);
      Nibbles32(b + 6, q);
      AddHighBits(b + 2, q);
      for (int i = 0; i < 32; ++i) out[i] = d * static_cast<float>(q[i] - 16);
      return;
    }
    case WeightType::kQ5_1: {
      const float d = F16At(b), m = F16At(b + 2);
      Nibbles32(b + 8, q);
      AddHighBits(b + 4, q);
      for (int i = 0; i < 32; ++i) {
        const float dq = d * static_cast<float>(q[i]);
        out[i] = dq + m;
      }
      return;
    }
    case WeightType::kIQ4_NL: {
      const float d = F16At(b);
      Nibbles32(b + 2, q);
      for (int i = 0; i < 32; ++i) out[i] = d * static_cast<float>(kIq4NlValues[q[i]]);
      return;
    }
    case WeightType::kQ4_K:
      return DequantizeK(b, false, out);
    case WeightType::kQ5_K:
      return DequantizeK(b, true, out);
    case WeightType::kQ6_K:
      return DequantizeQ6K(b, out);
    default:
      return;
  }
}

}  // namespace talkie::ops
