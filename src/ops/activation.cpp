// SwiGLU gate (plain reference): silu(g) = g / (1 + exp(-g)).
#include "ops/activation.h"

#include <cmath>

namespace talkie::ops {

void SiluMulReference(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace talkie::ops
