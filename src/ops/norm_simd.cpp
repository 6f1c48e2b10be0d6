// SIMD RMS norm with Highway's runtime dispatch (AVX-512, AVX2, NEON, ...).
//
// Each row's sum of squares uses four vector accumulators: vector v of the row
// (lanes [v N, v N + N)) goes to accumulator v % 4 by fused multiply-add, the
// last partial vector is zero-padded (0 * 0 adds exactly nothing) and goes to
// accumulator 0, the accumulators are added as (a0 + a1) + (a2 + a3), and the
// lanes in index order. That order depends only on n and the SIMD target, so a
// row normalises to the same bits alone or in any batch, on any thread.
#include "ops/norm.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/norm_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "ops/simd-inl.h"

#include <cmath>

HWY_BEFORE_NAMESPACE();
namespace talkie::ops {
namespace HWY_NAMESPACE {

HWY_INLINE float SumOfSquares(DF df, const float* x, int64_t n) {
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  VF a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const VF v0 = hn::LoadU(df, x + i), v1 = hn::LoadU(df, x + i + lanes);
    const VF v2 = hn::LoadU(df, x + i + 2 * lanes), v3 = hn::LoadU(df, x + i + 3 * lanes);
    a0 = hn::MulAdd(v0, v0, a0);
    a1 = hn::MulAdd(v1, v1, a1);
    a2 = hn::MulAdd(v2, v2, a2);
    a3 = hn::MulAdd(v3, v3, a3);
  }
  // Up to three whole vectors left: they continue the v % 4 assignment.
  if (i + lanes <= n) {
    const VF v = hn::LoadU(df, x + i);
    a0 = hn::MulAdd(v, v, a0);
    i += lanes;
  }
  if (i + lanes <= n) {
    const VF v = hn::LoadU(df, x + i);
    a1 = hn::MulAdd(v, v, a1);
    i += lanes;
  }
  if (i + lanes <= n) {
    const VF v = hn::LoadU(df, x + i);
    a2 = hn::MulAdd(v, v, a2);
    i += lanes;
  }
  if (i < n) {
    HWY_ALIGN float tail[kMaxLanes] = {};
    for (int64_t t = i; t < n; ++t) tail[t - i] = x[t];
    const VF v = hn::Load(df, tail);
    a0 = hn::MulAdd(v, v, a0);
  }
  return SumLanesInOrder(df, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)));
}

void RmsNormRowsSimd(const float* x, int64_t rows, int64_t n, float* y) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;  // may be xr: each element is read before it is written
    const float sum = SumOfSquares(df, xr, n);
    const float inv = 1.0f / std::sqrt(sum / static_cast<float>(n) + kRmsEps);
    const VF vinv = hn::Set(df, inv);
    int64_t i = 0;
    for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(df, xr + i), vinv), df, yr + i);
    for (; i < n; ++i) yr[i] = xr[i] * inv;  // one rounding, as in the vector part
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace talkie::ops {

HWY_EXPORT(RmsNormRowsSimd);

void RmsNormRows(const float* x, int64_t rows, int64_t n, float* y) {
  HWY_DYNAMIC_DISPATCH(RmsNormRowsSimd)(x, rows, n, y);
}

}  // namespace talkie::ops
#endif  // HWY_ONCE
