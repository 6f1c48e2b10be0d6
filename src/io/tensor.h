// Tensor views over bytes owned elsewhere (usually a memory-mapped checkpoint).
// A TensorView never owns memory; whatever produced it (a TensorStore) must
// outlive it. Weights stay in their stored dtype; kernels widen on the fly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/number_formats.h"

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

// The number formats (common/number_formats.h), as the checkpoint code names them.
using ::talkie::Bf16ToFloat;
using ::talkie::F16ToFloat;
using ::talkie::FloatToBf16;
using ::talkie::FloatToF16;

}  // namespace talkie::io
