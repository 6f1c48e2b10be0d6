// LogSumExp (see softmax.h).
#include "ops/softmax.h"

#include <algorithm>
#include <cmath>

namespace talkie::ops {

double LogSumExp(const float* x, int64_t n) {
  const double max = *std::max_element(x, x + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - max);
  return std::log(sum) + max;
}

}  // namespace talkie::ops
