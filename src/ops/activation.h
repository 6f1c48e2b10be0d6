// SwiGLU gate: h = silu(gate) * up, elementwise.
#pragma once

#include <cstdint>

namespace talkie::ops {

// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]; out may alias gate or up.
// The SIMD kernel for the CPU (runtime dispatch; activation_simd.cpp): each
// element depends only on its own gate / up values. exp is Highway's (1 ulp),
// so results are within a few ulp of the reference; gates below the exp
// overflow point give (-)0 * up, as the reference does.
void SiluMul(const float* gate, const float* up, int64_t n, float* out);

// The plain reference: std::exp and the same formula, one element at a time.
void SiluMulReference(const float* gate, const float* up, int64_t n, float* out);

}  // namespace talkie::ops
