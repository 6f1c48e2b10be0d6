// y = x W^T for a batch of activation rows against a stored weight matrix.
#pragma once

#include <cstdint>

#include "ops/weights.h"

namespace talkie::ops {

// x: [m, w.cols] float32, y: [m, w.rows] float32. The SIMD kernel for the
// CPU (runtime dispatch; matmul_simd.cpp); matrices marked Precision::kFast
// go to the fast policy's kernels (matmul_lowp.h).
// Determinism: y[i][j] is a dot product summed over k in one fixed order that
// does not depend on m, on which rows are in flight, or on the thread count.
void MatMul(const float* x, int64_t m, const WeightMatrix& w, float* y);

// The plain reference every SIMD kernel is tested against: widen a weight
// row, then one float sum per output in index order. For the ggml block
// types (ggml_blocks.h) the order is one every SIMD width can reproduce, so
// their kernel gives exactly these bits on every target: 16 partial sums,
// partial l adding x[t] * w[t] (product rounded, then the sum) for
// t = l, l + 16, l + 32, ... in order, then partials 0..15 added in order.
void MatMulReference(const float* x, int64_t m, const WeightMatrix& w, float* y);

inline constexpr int kGgmlDotLanes = 16;

// Activation rows per block in the matmul kernels (exact and fast): a block
// of rows of row_bytes each stays in L2 while every weight row streams past
// once. Blocking never changes a result, only the speed.
inline int64_t MatMulRowsPerBlock(int64_t row_bytes) {
  const int64_t rows = (256 * 1024) / (row_bytes > 0 ? row_bytes : 1) / 4 * 4;
  return rows > 4 ? rows : 4;
}

// Name of the SIMD target MatMul dispatches to (e.g. "AVX3", "AVX2").
const char* MatMulTarget();

}  // namespace talkie::ops
