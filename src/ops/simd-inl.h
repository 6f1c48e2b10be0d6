// SIMD details the Highway kernels share (matmul, attention, rms-norm,
// SwiGLU): the float vector type, lane bound, the lane sum in index order,
// and exact bf16 / f16 widening. Per-target like Highway's own -inl headers:
// include it after <hwy/highway.h> in a file compiled by foreach_target.h.
#if defined(TALKIE_OPS_SIMD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TALKIE_OPS_SIMD_INL_H_
#undef TALKIE_OPS_SIMD_INL_H_
#else
#define TALKIE_OPS_SIMD_INL_H_
#endif

#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace talkie::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
// Upper bound on float lanes of any target (for stack buffers).
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);

// Adds the lanes in index order: fixed, so results never depend on the
// target's own reduction tree.
HWY_INLINE float SumLanesInOrder(DF df, VF v) {
  HWY_ALIGN float lanes[kMaxLanes];
  hn::Store(v, df, lanes);
  float s = lanes[0];
  for (size_t l = 1; l < hn::Lanes(df); ++l) s += lanes[l];
  return s;
}

// Lanes(df) bf16 values from p widened to float, exactly: the bf16 bits are
// the high half of the float.
HWY_INLINE VF LoadBf16(DF df, const uint16_t* p) {
  const hn::Rebind<uint16_t, DF> d16;
  const hn::RebindToUnsigned<DF> d32;
  return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(d32, hn::LoadU(d16, p))));
}

// Lanes(df) IEEE half values from p widened to float: exact for every finite
// value, subnormals included (F16C on x86, FP16 on ARM, else Highway's
// emulation).
HWY_INLINE VF LoadF16(DF df, const uint16_t* p) {
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::ops
HWY_AFTER_NAMESPACE();

#endif  // TALKIE_OPS_SIMD_INL_H_
