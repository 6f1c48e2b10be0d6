// 256-bit vector pieces of the shared int8 tile (matmul_lowp_int8-inl.h),
// for AVX2 and AVX-VNNI; included inside a namespace after defining
// TALKIE_LOWP_TARGET. The dot product (DotAdd) is the includer's.
using VecI = __m256i;
using VecF = __m256;
inline constexpr int kCols = 8;
inline constexpr int32_t kQ8Offset = 128;  // VPDPBUSD reads the codes as u8
TALKIE_LOWP_TARGET inline VecI CentreQ8(VecI v) { return v; }
TALKIE_LOWP_TARGET inline VecI LoadCodes(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
TALKIE_LOWP_TARGET inline VecI Broadcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}
TALKIE_LOWP_TARGET inline VecI LowNibbles(VecI v) {
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}
TALKIE_LOWP_TARGET inline VecI HighNibbles(VecI v) {
  return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
}
TALKIE_LOWP_TARGET inline VecI SetI(int32_t i) { return _mm256_set1_epi32(i); }
TALKIE_LOWP_TARGET inline VecI ZeroI() { return _mm256_setzero_si256(); }
TALKIE_LOWP_TARGET inline VecI SubI(VecI a, VecI b) { return _mm256_sub_epi32(a, b); }
TALKIE_LOWP_TARGET inline VecF LoadScales(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
TALKIE_LOWP_TARGET inline VecF ZeroF() { return _mm256_setzero_ps(); }
TALKIE_LOWP_TARGET inline VecF SetF(float f) { return _mm256_set1_ps(f); }
TALKIE_LOWP_TARGET inline VecF ToFloat(VecI v) { return _mm256_cvtepi32_ps(v); }
TALKIE_LOWP_TARGET inline VecF MulF(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
TALKIE_LOWP_TARGET inline VecF MulAddF(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
TALKIE_LOWP_TARGET inline void StoreF(float* p, VecF v) { _mm256_store_ps(p, v); }
