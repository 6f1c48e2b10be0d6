// Plain reference matmul: widen one weight row at a time, then dot it with
// every activation row. Threads split the output columns (weight rows).
#include "ops/matmul.h"

#include <vector>

#include "ops/parallel.h"

namespace talkie::ops {

void MatMulReference(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  const int64_t n = w.rows;
  const int64_t k = w.cols;
#pragma omp parallel num_threads(NumThreads())
  {
    std::vector<float> row(static_cast<size_t>(k));
#pragma omp for schedule(static)
    for (int64_t j = 0; j < n; ++j) {
      WeightRowToFloat(w, j, row.data());
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
