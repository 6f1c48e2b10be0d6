// Tensor views over bytes owned elsewhere (usually a memory-mapped checkpoint).
// A TensorView never owns memory; whatever produced it (a TensorStore) must
// outlive it. Weights stay in their stored dtype; kernels widen on the fly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace talkie::io {

enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// Size of one element in bytes.
size_t DTypeSize(DType dtype);
// Safetensors spelling ("F32", "BF16", ...).
std::string_view DTypeName(DType dtype);
// Parses the safetensors spelling; returns false for an unknown string.
bool ParseDType(std::string_view name, DType* dtype);

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // contiguous, row-major
  size_t nbytes = 0;

  int64_t NumElements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// Widens element i of a floating-point tensor (F32, F16, BF16, F64) to float.
float ElementAsFloat(const TensorView& t, int64_t i);

// Exact bf16 -> float widening and round-to-nearest-even float -> bf16.
inline float Bf16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  __builtin_memcpy(&f, &bits, sizeof f);
  return f;
}
inline uint16_t FloatToBf16(float f) {
  uint32_t bits;
  __builtin_memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
float F16ToFloat(uint16_t h);
// Round-to-nearest-even float -> IEEE half (overflow to infinity).
uint16_t FloatToF16(float f);

}  // namespace talkie::io
