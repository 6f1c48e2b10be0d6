// The fast policy's int8 kernels for aarch64: 128-bit Advanced SIMD vectors
// (4 output columns each) running the shared tile (matmul_lowp_int8-inl.h)
// three times, one per dot-product instruction:
//   i8mm     USDOT: u8 codes x s8 activations, as VPDPBUSD on x86;
//   dotprod  SDOT: s8 x s8, so q8 codes are first re-centred to code - 128;
//   NEON     no dot product: widening multiplies and pairwise adds.
// The integer dot products are exact and the float steps (convert, multiply,
// fused multiply-add) are those of the portable kernel, so every path gives
// the same bits. Each copy is compiled for its own extension through the
// target attribute, so the plain copy never holds a dotprod instruction.
#include <arm_neon.h>

#include <type_traits>

#include "ops/matmul_lowp_kernels.h"

namespace talkie::ops::lowp {

// Plain Advanced SIMD: u8 x s8 products widened to 16 bits (255 * 127 fits),
// then two pairwise adds join each lane's four products.
namespace neon {
#define TALKIE_LOWP_TARGET
#include "ops/arm/matmul_lowp_vec128-inl.h"
inline constexpr int32_t kQ8Offset = 128;
inline VecI CentreQ8(VecI v) { return v; }
inline VecI DotAdd(VecI acc, VecI a, VecI b) {
  const uint8x16_t codes = vreinterpretq_u8_s32(a);
  const int8x16_t x = vreinterpretq_s8_s32(b);
  const int16x8_t lo =
      vmulq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(codes))), vmovl_s8(vget_low_s8(x)));
  const int16x8_t hi =
      vmulq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(codes))), vmovl_s8(vget_high_s8(x)));
  return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
}
#include "ops/matmul_lowp_int8-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace neon

// Armv8.2 dotprod: SDOT multiplies s8 by s8, so q8 codes (0..255, zero at
// 128) are flipped to code - 128 and need no offset correction; q4 nibbles
// (0..15) are the same as s8.
namespace dotprod {
#define TALKIE_LOWP_TARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#include "ops/arm/matmul_lowp_vec128-inl.h"
inline constexpr int32_t kQ8Offset = 0;
TALKIE_LOWP_TARGET inline VecI CentreQ8(VecI v) {
  return vreinterpretq_s32_u8(veorq_u8(vreinterpretq_u8_s32(v), vdupq_n_u8(0x80)));
}
TALKIE_LOWP_TARGET inline VecI DotAdd(VecI acc, VecI a, VecI b) {
  return vdotq_s32(acc, vreinterpretq_s8_s32(a), vreinterpretq_s8_s32(b));
}
#include "ops/matmul_lowp_int8-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace dotprod

// Armv8.6 i8mm: USDOT multiplies u8 by s8, exactly VPDPBUSD's arithmetic.
namespace i8mm {
#define TALKIE_LOWP_TARGET __attribute__((target("arch=armv8.2-a+i8mm")))
#include "ops/arm/matmul_lowp_vec128-inl.h"
inline constexpr int32_t kQ8Offset = 128;
TALKIE_LOWP_TARGET inline VecI CentreQ8(VecI v) { return v; }
TALKIE_LOWP_TARGET inline VecI DotAdd(VecI acc, VecI a, VecI b) {
  return vusdotq_s32(acc, vreinterpretq_u8_s32(a), vreinterpretq_s8_s32(b));
}
#include "ops/matmul_lowp_int8-inl.h"
#undef TALKIE_LOWP_TARGET
}  // namespace i8mm

void Int8RowsNeon(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1) {
  if (job.q4) return neon::RowRange<true>(job, i0, i1, b0, b1);
  neon::RowRange<false>(job, i0, i1, b0, b1);
}

__attribute__((target("arch=armv8.2-a+dotprod"))) void Int8RowsNeonDotprod(const Int8Job& job,
                                                                           int64_t i0, int64_t i1,
                                                                           int64_t b0, int64_t b1) {
  if (job.q4) return dotprod::RowRange<true>(job, i0, i1, b0, b1);
  dotprod::RowRange<false>(job, i0, i1, b0, b1);
}

__attribute__((target("arch=armv8.2-a+i8mm"))) void Int8RowsNeonI8mm(const Int8Job& job, int64_t i0,
                                                                     int64_t i1, int64_t b0,
                                                                     int64_t b1) {
  if (job.q4) return i8mm::RowRange<true>(job, i0, i1, b0, b1);
  i8mm::RowRange<false>(job, i0, i1, b0, b1);
}

}  // namespace talkie::ops::lowp
