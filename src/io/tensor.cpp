// DType helpers and float widening for TensorView.
#include "io/tensor.h"

#include <cmath>
#include <cstring>

#include "common/error.h"

namespace talkie::io {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF64:
    case DType::kI64:
      return 8;
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16:
      return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kF64:
      return "F64";
    case DType::kI64:
      return "I64";
    case DType::kI32:
      return "I32";
    case DType::kI16:
      return "I16";
    case DType::kI8:
      return "I8";
    case DType::kU8:
      return "U8";
    case DType::kBool:
      return "BOOL";
  }
  return "?";
}

bool ParseDType(std::string_view name, DType* dtype) {
  static constexpr DType kAll[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kF64,
                                   DType::kI64, DType::kI32, DType::kI16,  DType::kI8,
                                   DType::kU8,  DType::kBool};
  for (DType d : kAll) {
    if (DTypeName(d) == name) {
      *dtype = d;
      return true;
    }
  }
  return false;
}

float ElementAsFloat(const TensorView& t, int64_t i) {
  const std::byte* p = t.data + static_cast<size_t>(i) * DTypeSize(t.dtype);
  switch (t.dtype) {
    case DType::kF32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::kF64: {
      double v;
      std::memcpy(&v, p, 8);
      return static_cast<float>(v);
    }
    case DType::kBF16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return Bf16ToFloat(v);
    }
    case DType::kF16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return F16ToFloat(v);
    }
    default:
      break;
  }
  throw Error("tensor '" + t.name + "': dtype " + std::string(DTypeName(t.dtype)) +
              " is not a floating-point type");
}

}  // namespace talkie::io
