// Plain reference attention for one query (see attention.h).
#include "ops/attention.h"

#include <cmath>
#include <limits>

namespace talkie::ops {

void AttendOneQueryReference(const float* q, const float* keys, const float* values, int64_t stride,
                             int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                             float* probs, float* out) {
  float max_score = -std::numeric_limits<float>::infinity();
  bool any = false;
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) {
      probs[j] = 0.0f;
      continue;
    }
    const float* k = keys + j * stride;
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot += q[d] * k[d];
    probs[j] = dot * scale;
    if (!any || probs[j] > max_score) max_score = probs[j];
    any = true;
  }
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  if (!any) return;
  float sum = 0.0f;
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) continue;
    probs[j] = std::exp(probs[j] - max_score);
    sum += probs[j];
  }
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) continue;
    probs[j] /= sum;
    const float* v = values + j * stride;
    for (int64_t d = 0; d < head_dim; ++d) out[d] += probs[j] * v[d];
  }
}

}  // namespace talkie::ops
