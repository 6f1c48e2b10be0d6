// SIMD SwiGLU gate with Highway's runtime dispatch (AVX-512, AVX2, NEON, ...):
// out = g / (1 + exp(-g)) * up, with Highway's exp (1 ulp; math-inl.h) in
// place of std::exp, and the same division and multiply as the reference.
//
// Every lane is computed on its own (a zero-padded last vector for the tail),
// so an element's result never depends on n or on its position.
//
// Highway's float Exp is valid for arguments up to +104 (the exponent
// reconstruction wraps beyond that), so -g is clamped to 100 first: e^100
// already overflows to +inf, giving g / inf = -0 for very negative gates,
// exactly as std::exp does. For very positive gates Exp returns 0 (its
// argument is below its -104 bound) and the result is g * up.
#include "ops/activation.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/activation_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

// Per-target like highway.h, so it must come after it.
#include <hwy/contrib/math/math-inl.h>

#include "ops/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace talkie::ops {
namespace HWY_NAMESPACE {

HWY_INLINE VF Silu(DF df, VF g, VF up) {
  // Min(NaN, 100) may be 100 on some targets; g / (1 + inf) is then still NaN.
  const VF e = hn::Exp(df, hn::Min(hn::Neg(g), hn::Set(df, 100.0f)));
  return hn::Mul(hn::Div(g, hn::Add(hn::Set(df, 1.0f), e)), up);
}

void SiluMulSimd(const float* gate, const float* up, int64_t n, float* out) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes)
    hn::StoreU(Silu(df, hn::LoadU(df, gate + i), hn::LoadU(df, up + i)), df, out + i);
  if (i < n) {
    HWY_ALIGN float g[kMaxLanes] = {}, u[kMaxLanes] = {}, o[kMaxLanes];
    for (int64_t t = i; t < n; ++t) g[t - i] = gate[t], u[t - i] = up[t];
    hn::Store(Silu(df, hn::Load(df, g), hn::Load(df, u)), df, o);
    for (int64_t t = i; t < n; ++t) out[t] = o[t - i];
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace talkie::ops {

HWY_EXPORT(SiluMulSimd);

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(SiluMulSimd)(gate, up, n, out);
}

}  // namespace talkie::ops
#endif  // HWY_ONCE
