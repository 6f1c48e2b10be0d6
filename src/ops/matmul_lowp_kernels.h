// Internal to the fast policy (matmul_lowp*.cpp): the row-block kernels each
// path implements. A kernel computes y for activation rows [i0, i1) and a
// range of output columns; matmul_lowp.cpp rounds the activations and splits
// the work over threads.
#pragma once

#include <cstdint>

#include "ops/weights.h"

namespace talkie::ops::lowp {

inline constexpr int64_t kBlockCols = 16;  // output columns per packed block
inline constexpr int64_t kQ8CodeBytes = 512, kQ4CodeBytes = 256, kScaleBytes = 32;

// Activations quantized per group of 32: codes, scale (amax / 127) and the
// sum of the codes (to remove the weights' code offset).
struct Int8Rows {
  const int8_t* q;     // [m, k]
  const float* d;      // [m, k / 32]
  const int32_t* sum;  // [m, k / 32]
  int64_t k;
};

struct Int8Job {
  Int8Rows x;
  const uint8_t* packed;
  bool q4;
  int64_t n;  // output columns (y's row stride)
  float scale;
  bool scaled;
  float* y;
};

// Bytes of one packed block: its groups' code records, then their scales.
inline int64_t PackedBlockBytes(bool q4, int64_t k) {
  return (k / 32) * ((q4 ? kQ4CodeBytes : kQ8CodeBytes) + kScaleBytes);
}

struct Bf16Job {
  const uint16_t* x;  // [m, kp] bf16, zero-padded to kp = k rounded up to 32
  int64_t kp;
  const uint16_t* w;  // [n, k] bf16
  int64_t k, n;
  float scale;
  bool scaled;
  float* y;
};

// Quantizes one activation row per group of 32 (matmul_lowp.cpp): codes
// nearest(x / d) in [-127, 127] with d = amax / 127, and each group's code sum.
void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* d, int32_t* sum);
// The q8 / q4 path MatMulLowPrecision takes now ("AVX512-VNNI", ...,
// "portable"; forced paths included).
const char* Int8PathName();

// Rows [i0, i1) x packed blocks [b0, b1). The SIMD kernels exist only on
// their architecture (src/ops/x86/, src/ops/arm/).
void Int8RowsPortable(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1);
#if defined(__x86_64__)
void Int8RowsAvx512(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1);
void Int8RowsAvxVnni(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1);
void Int8RowsAvx2(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1);
#elif defined(__aarch64__)
void Int8RowsNeonI8mm(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1);
void Int8RowsNeonDotprod(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1);
void Int8RowsNeon(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1);
#endif
// ggml block weights used in place (matmul_lowp_ggml.cpp): the activations
// as above plus the sum of every 4 consecutive codes (the lanes of a 4-term
// dot product), and the matrix itself.
struct GgmlInt8Job {
  Int8Rows x;
  const int32_t* sum4;  // [m, k / 4]
  const WeightMatrix* w;
  float* y;  // [m, w->rows]
};
// The fast-policy matmul for the types GgmlHasInt8Kernel accepts, and the
// name of the path it takes (the q8 / q4 path's instruction, or "portable").
void MatMulGgmlInt8(const float* x, int64_t m, const WeightMatrix& w, float* y);
const char* GgmlLowPrecisionPath();
// Rows [i0, i1) (at most kGgmlMaxRows) x output columns [j0, j1).
inline constexpr int64_t kGgmlMaxRows = 32;
void GgmlRowsPortable(const GgmlInt8Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1);
#if defined(__x86_64__)
void GgmlRowsAvx512(const GgmlInt8Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1);
void GgmlRowsAvxVnni(const GgmlInt8Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1);
void GgmlRowsAvx2(const GgmlInt8Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1);
#endif

// Rows [i0, i1) x columns [j0, j1).
void Bf16RowsPortable(const Bf16Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1);
#if defined(__x86_64__)
void Bf16RowsAvx512(const Bf16Job& job, int64_t i0, int64_t i1, int64_t j0, int64_t j1);
#endif

}  // namespace talkie::ops::lowp
