// bf16 and IEEE half <-> float32 conversions: number formats that the
// checkpoint reader (io), the kernels (ops) and the model all use, so they
// live below all of them.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace talkie {

// Exact bf16 -> float widening: the bf16 bits are the high half of the float.
inline float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round-to-nearest-even float -> bf16 (NaN stays a quiet NaN).
inline uint16_t FloatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// Exact IEEE half -> float (subnormals, infinities and NaN included).
inline float F16ToFloat(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: normalise
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// IEEE half -> float without branches, for finite values only (the q8 / q4
// group scales): move exponent and mantissa into place and rebias by
// multiplying with 2^112 (exact for normal and subnormal halves). The sign is
// ORed in, not branched on: q4 scales are negative half the time, and a
// mispredicted branch per group costs more than the group.
inline float F16ToFloatFinite(uint16_t h) {
  const uint32_t magnitude = static_cast<uint32_t>(h & 0x7fffu) << 13;
  float f;
  std::memcpy(&f, &magnitude, sizeof f);
  f *= 0x1p112f;
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  bits |= static_cast<uint32_t>(h & 0x8000u) << 16;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round-to-nearest-even float -> IEEE half (overflow to infinity).
inline uint16_t FloatToF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;                   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;                  // rounds past 65504: inf
  if (abs < 0x38800000u) {                                        // half subnormal or zero
    const float scaled = std::fabs(f) * 16777216.0f;              // units of 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));  // ties to even
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // nearest even at bit 13
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

}  // namespace talkie
