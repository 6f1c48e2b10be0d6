// Body of the 256-bit int8 kernel (matmul_lowp_avx2.cpp includes it twice:
// for AVX2 and for AVX-VNNI, each copy compiled only for its own target so
// the AVX2 copy can never contain an AVX-VNNI instruction). Expects
// TALKIE_LOWP_TARGET and TALKIE_LOWP_VNNI (0 / 1); inside a namespace.

// acc + sum over 4 bytes of a (unsigned) * b (signed), per 32-bit lane.
TALKIE_LOWP_TARGET inline __m256i DotAdd(__m256i acc, __m256i a, __m256i b) {
#if TALKIE_LOWP_VNNI
  return _mm256_dpbusd_avx_epi32(acc, a, b);
#else
  // Widen to 16 bits (u8 -> s16 keeps 0..255, s8 -> s16 keeps the sign),
  // multiply-add pairs into 32 bits, then add the two pairs of each lane.
  const __m256i zero = _mm256_setzero_si256();
  const __m256i a_lo = _mm256_unpacklo_epi8(a, zero), a_hi = _mm256_unpackhi_epi8(a, zero);
  const __m256i b_lo = _mm256_srai_epi16(_mm256_unpacklo_epi8(zero, b), 8);
  const __m256i b_hi = _mm256_srai_epi16(_mm256_unpackhi_epi8(zero, b), 8);
  // Per 128-bit half, unpacklo covers 4-byte groups 0-1 and unpackhi groups
  // 2-3; madd leaves each group as two adjacent sums, hadd joins them in
  // group order.
  const __m256i p_lo = _mm256_madd_epi16(a_lo, b_lo), p_hi = _mm256_madd_epi16(a_hi, b_hi);
  return _mm256_add_epi32(acc, _mm256_hadd_epi32(p_lo, p_hi));
#endif
}

TALKIE_LOWP_TARGET inline __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// MR activation rows x NH half-blocks (8 columns each) starting at half h0.
template <int MR, int NH, bool kQ4>
TALKIE_LOWP_TARGET void Tile(const Int8Job& job, int64_t i0, int64_t h0) {
  const int64_t k = job.x.k, groups = k / 32;
  const int64_t code_bytes = kQ4 ? kQ4CodeBytes : kQ8CodeBytes;
  const int32_t offset = kQ4 ? 8 : 128;
  const int64_t block_bytes = PackedBlockBytes(kQ4, k);
  const uint8_t* codes[NH];
  const uint8_t* scales[NH];
  for (int h = 0; h < NH; ++h) {
    const int64_t block = (h0 + h) / 2, half = (h0 + h) % 2;
    codes[h] = job.packed + block * block_bytes + 32 * half;
    scales[h] = job.packed + block * block_bytes + groups * code_bytes + 16 * half;
  }
  const int8_t* xq[MR];
  for (int i = 0; i < MR; ++i) xq[i] = job.x.q + (i0 + i) * k;
  const __m256i low_nibbles = _mm256_set1_epi8(0x0f);

  __m256 acc[MR][NH];
  for (int i = 0; i < MR; ++i)
    for (int h = 0; h < NH; ++h) acc[i][h] = _mm256_setzero_ps();

  for (int64_t g = 0; g < groups; ++g) {
    __m256i dot[MR][NH];
    for (int i = 0; i < MR; ++i)
      for (int h = 0; h < NH; ++h) dot[i][h] = _mm256_setzero_si256();
    if constexpr (!kQ4) {
      for (int v = 0; v < 8; ++v) {
        __m256i w[NH];
        for (int h = 0; h < NH; ++h)
          w[h] = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(codes[h] + g * code_bytes + 64 * v));
        for (int i = 0; i < MR; ++i) {
          const __m256i xv = Broadcast4(xq[i] + 32 * g + 4 * v);
          for (int h = 0; h < NH; ++h) dot[i][h] = DotAdd(dot[i][h], w[h], xv);
        }
      }
    } else {
      for (int p = 0; p < 4; ++p) {
        __m256i lo[NH], hi[NH];
        for (int h = 0; h < NH; ++h) {
          const __m256i raw = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(codes[h] + g * code_bytes + 64 * p));
          lo[h] = _mm256_and_si256(raw, low_nibbles);
          hi[h] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low_nibbles);
        }
        for (int i = 0; i < MR; ++i) {
          const __m256i xlo = Broadcast4(xq[i] + 32 * g + 8 * p);
          const __m256i xhi = Broadcast4(xq[i] + 32 * g + 8 * p + 4);
          for (int h = 0; h < NH; ++h) {
            dot[i][h] = DotAdd(dot[i][h], lo[h], xlo);
            dot[i][h] = DotAdd(dot[i][h], hi[h], xhi);
          }
        }
      }
    }
    __m256 wscale[NH];
    for (int h = 0; h < NH; ++h)
      wscale[h] = _mm256_cvtph_ps(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales[h] + g * kScaleBytes)));
    for (int i = 0; i < MR; ++i) {
      const int64_t xg = (i0 + i) * groups + g;
      const __m256i correction = _mm256_set1_epi32(offset * job.x.sum[xg]);
      const __m256 xscale = _mm256_set1_ps(job.x.d[xg]);
      for (int h = 0; h < NH; ++h) {
        const __m256 exact = _mm256_cvtepi32_ps(_mm256_sub_epi32(dot[i][h], correction));
        acc[i][h] = _mm256_fmadd_ps(exact, _mm256_mul_ps(wscale[h], xscale), acc[i][h]);
      }
    }
  }

  for (int i = 0; i < MR; ++i) {
    for (int h = 0; h < NH; ++h) {
      __m256 out = acc[i][h];
      if (job.scaled) out = _mm256_mul_ps(out, _mm256_set1_ps(job.scale));
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, out);
      const int64_t col0 = (h0 + h) * 8;
      float* y = job.y + (i0 + i) * job.n;
      for (int c = 0; c < 8 && col0 + c < job.n; ++c) y[col0 + c] = lanes[c];
    }
  }
}

template <bool kQ4>
TALKIE_LOWP_TARGET void RowRange(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0, int64_t b1) {
  const int64_t h0 = 2 * b0, h1 = 2 * b1;
  // Half-blocks past the last column hold zero weights; skip them entirely.
  const int64_t h_end = h1 < (job.n + 7) / 8 ? h1 : (job.n + 7) / 8;
  int64_t i = i0;
  auto rows = [&](auto mr) TALKIE_LOWP_TARGET {
    constexpr int MR = decltype(mr)::value;
    constexpr int NH = MR == 1 ? 4 : 2;
    int64_t h = h0;
    for (; h + NH <= h_end; h += NH) Tile<MR, NH, kQ4>(job, i, h);
    for (; h < h_end; ++h) Tile<MR, 1, kQ4>(job, i, h);
  };
  for (; i + 4 <= i1; i += 4) rows(std::integral_constant<int, 4>{});
  for (; i < i1; ++i) rows(std::integral_constant<int, 1>{});
}

