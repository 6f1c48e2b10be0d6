// How far one run's logits are from another's: max |dlogit|, mean KL of the
// second's distribution to the first's, top-1 agreement, and how much the
// reference's logit of our argmax falls short of its own maximum.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/softmax.h"

namespace talkie::testing {

struct Drift {
  float max_abs = 0;
  double mean_kl = 0;    // mean over positions of KL(ref || ours), nats
  double top1 = 0;       // fraction of positions with the same argmax
  float max_regret = 0;  // max over positions of ref[ref argmax] - ref[our argmax]
};

inline Drift CompareLogits(const std::vector<float>& ours, const std::vector<float>& ref,
                           int64_t vocab) {
  Drift d;
  const int64_t rows = static_cast<int64_t>(ref.size()) / vocab;
  for (int64_t r = 0; r < rows; ++r) {
    const float* a = &ours[r * vocab];
    const float* b = &ref[r * vocab];
    const double la = ops::LogSumExp(a, vocab), lb = ops::LogSumExp(b, vocab);
    double kl = 0;
    int64_t ia = 0, ib = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      d.max_abs = std::max(d.max_abs, std::fabs(a[v] - b[v]));
      const double pb = std::exp(b[v] - lb);
      kl += pb * ((b[v] - lb) - (a[v] - la));
      if (a[v] > a[ia]) ia = v;
      if (b[v] > b[ib]) ib = v;
    }
    d.mean_kl += kl / rows;
    d.top1 += (ia == ib) / static_cast<double>(rows);
    d.max_regret = std::max(d.max_regret, b[ib] - b[ia]);
  }
  return d;
}

}  // namespace talkie::testing
