// 128-bit Advanced SIMD pieces of the shared int8 tile
// (matmul_lowp_int8-inl.h), for the three aarch64 copies; included inside a
// namespace after defining TALKIE_LOWP_TARGET. Integer vectors are int32x4_t;
// byte views are reinterpreted where an instruction needs them. The dot
// product (DotAdd, CentreQ8, kQ8Offset) is the includer's.
using VecI = int32x4_t;
using VecF = float32x4_t;
inline constexpr int kCols = 4;
TALKIE_LOWP_TARGET inline VecI LoadCodes(const uint8_t* p) {
  return vreinterpretq_s32_u8(vld1q_u8(p));
}
TALKIE_LOWP_TARGET inline VecI Broadcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return vdupq_n_s32(v);
}
TALKIE_LOWP_TARGET inline VecI LowNibbles(VecI v) {
  return vreinterpretq_s32_u8(vandq_u8(vreinterpretq_u8_s32(v), vdupq_n_u8(0x0f)));
}
TALKIE_LOWP_TARGET inline VecI HighNibbles(VecI v) {
  return vreinterpretq_s32_u8(vshrq_n_u8(vreinterpretq_u8_s32(v), 4));
}
TALKIE_LOWP_TARGET inline VecI SetI(int32_t i) { return vdupq_n_s32(i); }
TALKIE_LOWP_TARGET inline VecI ZeroI() { return vdupq_n_s32(0); }
TALKIE_LOWP_TARGET inline VecI SubI(VecI a, VecI b) { return vsubq_s32(a, b); }
TALKIE_LOWP_TARGET inline VecF LoadScales(const uint8_t* p) {
  uint16_t h[4];
  __builtin_memcpy(h, p, sizeof h);
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}
TALKIE_LOWP_TARGET inline VecF ZeroF() { return vdupq_n_f32(0.0f); }
TALKIE_LOWP_TARGET inline VecF SetF(float f) { return vdupq_n_f32(f); }
TALKIE_LOWP_TARGET inline VecF ToFloat(VecI v) { return vcvtq_f32_s32(v); }
TALKIE_LOWP_TARGET inline VecF MulF(VecF a, VecF b) { return vmulq_f32(a, b); }
TALKIE_LOWP_TARGET inline VecF MulAddF(VecF a, VecF b, VecF c) { return vfmaq_f32(c, a, b); }
TALKIE_LOWP_TARGET inline void StoreF(float* p, VecF v) { vst1q_f32(p, v); }
