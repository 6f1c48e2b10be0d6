// The exact-policy matmul over ggml block weights (ggml_blocks.h), used in
// place: each weight block is dequantized into a small L1 buffer (the bits
// of WeightRowToFloat), then dotted with float32 activations in the order
// MatMulReference defines for these types (matmul.h), so every target,
// batch size, tile and thread count gives the reference's bits.
#pragma once

#include <cstdint>

#include "ops/weights.h"

namespace talkie::ops {

// x: [m, w.cols], y: [m, w.rows]; w of a ggml block type.
void MatMulGgml(const float* x, int64_t m, const WeightMatrix& w, float* y);

}  // namespace talkie::ops
