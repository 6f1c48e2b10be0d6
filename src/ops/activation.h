// SwiGLU gate: h = silu(gate) * up, elementwise.
#pragma once

#include <cstdint>

namespace talkie::ops {

void SiluMul(const float* gate, const float* up, int64_t n, float* out);

}  // namespace talkie::ops
