// A weight matrix as the kernels see it: rows x cols in its stored element
// type, row-major ([out_features, in_features], nn.Linear convention), never
// copied or widened ahead of time. An optional scale multiplies every element
// before use (the lm_head gain: the reference multiplies the matrix, and in
// float32 bf16 * bf16 is exact, so scaling each element keeps bit-parity).
#pragma once

#include <cstdint>
#include <cstring>

namespace talkie::ops {

// kQ4_1 .. kIQ4_NL: ggml's block formats used in place from a GGUF file
// (ops/ggml_blocks.h); data points at the row-major blocks.
enum class WeightType {
  kF32,
  kF16,
  kBF16,
  kQ8,
  kQ4,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ4_K,
  kQ5_K,
  kQ6_K,
  kIQ4_NL
};

// Precision policy, chosen per run (Model::SetPrecision):
//   kExact: float32 activations; matches the reference implementation.
//   kFast: activations rounded per row inside the matmul (bf16 for bf16
//          weights, int8 per group of 32 for q8 / q4 weights) so the dot
//          products run on AVX512-BF16 / AVX512-VNNI (matmul_lowp.h).
// Both keep every output's reduction order independent of the batch.
enum class Precision { kExact, kFast };

// Group-wise quantized formats: each row is cut into groups of 32 values along
// cols (cols must be a multiple of 32), each with one f16 scale d.
//   q8: int8 q, value = q * d                    (8.5 bits per weight)
//   q4: 4-bit q in [0, 15], value = (q - 8) * d  (4.5 bits per weight);
//       group g of a row is 16 bytes: byte i holds element i in its low nibble
//       and element i + 16 in its high nibble.
inline constexpr int64_t kQuantGroup = 32;

struct WeightMatrix {
  WeightType type = WeightType::kF32;
  const void* data = nullptr;  // q8: int8 [rows, cols]; q4: uint8 [rows, cols / 2]
  int64_t rows = 0;
  int64_t cols = 0;
  float scale = 1.0f;
  bool has_scale = false;
  const uint16_t* group_scales = nullptr;  // q8 / q4: f16 [rows, cols / 32]
  Precision precision = Precision::kExact;
  const uint8_t* packed = nullptr;  // kFast q8 / q4: PackForLowPrecision's copy
  // ggml block types: rows whose values are negated (1) or kept (0), [rows];
  // nullptr = none. Undoes the GGUF converter's q / k RoPE flip exactly
  // (negation is exact) without copying the matrix.
  const uint8_t* negated_rows = nullptr;
};

// Bytes of the stored matrix (scales included).
int64_t WeightBytes(const WeightMatrix& w);

// Widens row r into out[cols] (negated when negated_rows says so, then
// multiplied by the scale when present).
void WeightRowToFloat(const WeightMatrix& w, int64_t r, float* out);

}  // namespace talkie::ops
