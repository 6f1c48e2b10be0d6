// Plain reference matmul: widen one weight row at a time, then dot it with
// every activation row. Threads split the output columns (weight rows).
// Compiled with -ffp-contract=off: a product and a sum stay two roundings.
#include "ops/matmul.h"

#include <vector>

#include "ops/ggml_blocks.h"
#include "ops/parallel.h"

namespace talkie::ops {
namespace {

// The ggml block types' dot product (matmul.h): 16 partial sums, then the
// partials in index order.
float DotInSixteenLanes(const float* x, const float* w, int64_t k) {
  float part[kGgmlDotLanes] = {};
  for (int64_t t = 0; t < k; ++t) {
    const float p = x[t] * w[t];
    part[t % kGgmlDotLanes] += p;
  }
  float sum = part[0];
  for (int l = 1; l < kGgmlDotLanes; ++l) sum += part[l];
  return sum;
}

}  // namespace

void MatMulReference(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  const int64_t n = w.rows;
  const int64_t k = w.cols;
#pragma omp parallel num_threads(NumThreads())
  {
    std::vector<float> row(static_cast<size_t>(k));
#pragma omp for schedule(static)
    for (int64_t j = 0; j < n; ++j) {
      WeightRowToFloat(w, j, row.data());
      if (IsGgmlBlockType(w.type)) {
        for (int64_t i = 0; i < m; ++i) y[i * n + j] = DotInSixteenLanes(x + i * k, row.data(), k);
        continue;
      }
      for (int64_t i = 0; i < m; ++i) {
        const float* xi = x + i * k;
        float sum = 0.0f;
        for (int64_t t = 0; t < k; ++t) sum += xi[t] * row[t];
        y[i * n + j] = sum;
      }
    }
  }
}

}  // namespace talkie::ops
