// y = x W^T for a batch of activation rows against a stored weight matrix.
#pragma once

#include <cstdint>

#include "ops/weights.h"

namespace talkie::ops {

// x: [m, w.cols] float32, y: [m, w.rows] float32.
// Determinism: y[i][j] is a dot product summed over k in one fixed order that
// does not depend on m, on which rows are in flight, or on the thread count.
void MatMul(const float* x, int64_t m, const WeightMatrix& w, float* y);

}  // namespace talkie::ops
