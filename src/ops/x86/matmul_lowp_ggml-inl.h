// The fast policy's x86 kernel over ggml blocks in place (Q4_K, Q5_0, Q6_K;
// the arithmetic is defined in matmul_lowp_ggml.cpp), on 256-bit vectors:
// one group of 32 codes is one vector, its 4-term dot products with the
// activation codes are the 8 int32 lanes of DotAdd. Included once per target
// inside a namespace, after defining TALKIE_LOWP_TARGET and DotAdd.
// No standard-library code is instantiated here.

TALKIE_LOWP_TARGET inline __m256i Load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// The 32 unsigned codes of group g of a block (GgmlGroupCodes' values).
template <WeightType T>
TALKIE_LOWP_TARGET inline __m256i Codes(const uint8_t* block, int g) {
  const __m256i nibble = _mm256_set1_epi8(15);
  if constexpr (T == WeightType::kQ4_K) {
    const __m256i v = Load32(block + 16 + 32 * (g / 2));
    return g % 2 == 0 ? _mm256_and_si256(v, nibble)
                      : _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
  } else if constexpr (T == WeightType::kQ5_0) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 6));
    const __m128i m = _mm_set1_epi8(15);
    const __m256i low =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
    // Byte t gets bit t of the little-endian uint32 at block + 2.
    uint32_t bits;
    __builtin_memcpy(&bits, block + 2, 4);
    const __m256i spread =
        _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                            _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                             2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i select = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
    return _mm256_or_si256(low, _mm256_and_si256(set, _mm256_set1_epi8(16)));
  } else {  // Q6_K
    const int h = g / 4, s = g % 4;
    const __m256i low = Load32(block + 64 * h + 32 * (s % 2));
    const __m256i low4 =
        s < 2 ? _mm256_and_si256(low, nibble) : _mm256_and_si256(_mm256_srli_epi16(low, 4), nibble);
    const __m256i high =
        _mm256_and_si256(_mm256_srl_epi16(Load32(block + 128 + 32 * h), _mm_cvtsi32_si128(2 * s)),
                         _mm256_set1_epi8(3));
    return _mm256_or_si256(low4, _mm256_slli_epi16(high, 4));
  }
}

template <WeightType T>
struct Format {
  static constexpr int64_t kElems = T == WeightType::kQ5_0 ? 32 : 256;
  static constexpr int64_t kBytes = T == WeightType::kQ5_0   ? 22
                                    : T == WeightType::kQ4_K ? 144
                                                             : 210;
  static constexpr int kPerBlock = static_cast<int>(kElems / 32);
  static constexpr int kOffsetShift = T == WeightType::kQ5_0 ? 4 : 5;  // offset 16 or 32
  static constexpr bool kMin = T == WeightType::kQ4_K;
};

// The int32 lanes of group gi of activation row r against codes u.
template <WeightType T>
TALKIE_LOWP_TARGET inline __m256i GroupDot(const GgmlInt8Job& job, __m256i u, int64_t r,
                                           int64_t gi) {
  const int64_t k = job.x.k;
  __m256i s = DotAdd(_mm256_setzero_si256(), u,
                     Load32(reinterpret_cast<const uint8_t*>(job.x.q + r * k + 32 * gi)));
  if constexpr (T != WeightType::kQ4_K) {
    const __m256i sums =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(job.sum4 + r * (k / 4) + 8 * gi));
    s = _mm256_sub_epi32(s, _mm256_slli_epi32(sums, Format<T>::kOffsetShift));
  }
  return s;
}

// y from the 8 lanes and the min term: ((l0 + l4) + (l2 + l6)) + ((l1 + l5)
// + (l3 + l7)), + off, as the portable twin.
TALKIE_LOWP_TARGET inline void Finish(const GgmlInt8Job& job, __m256 v, float off, int64_t r,
                                      int64_t j) {
  const WeightMatrix& w = *job.w;
  const __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pair = _mm_add_ps(t, _mm_movehl_ps(t, t));
  float y = _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)));
  y += off;
  if (w.negated_rows != nullptr && w.negated_rows[j] != 0) y = -y;
  job.y[r * w.rows + j] = w.has_scale ? y * w.scale : y;
}

// Few activation rows (decode): each output's sums stay in registers, and
// four outputs run side by side so the fma chains overlap.
template <WeightType T, int NJ>
TALKIE_LOWP_TARGET void FewRows(const GgmlInt8Job& job, int64_t r, int64_t j) {
  using F = Format<T>;
  const WeightMatrix& w = *job.w;
  const int64_t k = w.cols, groups = k / 32;
  const uint8_t* rows[NJ];
  for (int jj = 0; jj < NJ; ++jj)
    rows[jj] = static_cast<const uint8_t*>(w.data) + (j + jj) * (k / F::kElems) * F::kBytes;
  __m256 acc[NJ];
  __m128 off[NJ];
  for (int jj = 0; jj < NJ; ++jj) {
    acc[jj] = _mm256_setzero_ps();
    off[jj] = _mm_setzero_ps();
  }
  for (int64_t b = 0; b < k / F::kElems; ++b) {
    GgmlGroupConsts c[NJ];
    for (int jj = 0; jj < NJ; ++jj) GgmlBlockConsts(T, rows[jj] + b * F::kBytes, &c[jj]);
    for (int g = 0; g < F::kPerBlock; ++g) {
      const int64_t gi = b * F::kPerBlock + g;
      const __m256 dx = _mm256_set1_ps(job.x.d[r * groups + gi]);
      for (int jj = 0; jj < NJ; ++jj) {
        const __m256i s = GroupDot<T>(job, Codes<T>(rows[jj] + b * F::kBytes, g), r, gi);
        const float a0 = c[jj].a[g][0], a1 = c[jj].a[g][1];
        const __m256 scale = _mm256_mul_ps(_mm256_setr_ps(a0, a0, a0, a0, a1, a1, a1, a1), dx);
        acc[jj] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc[jj]);
        if constexpr (F::kMin) {
          const float sum = static_cast<float>(job.x.sum[r * groups + gi]);
          off[jj] =
              _mm_fmadd_ss(_mm_set_ss(sum),
                           _mm_mul_ss(_mm_set_ss(c[jj].b[g]), _mm256_castps256_ps128(dx)), off[jj]);
        }
      }
    }
  }
  for (int jj = 0; jj < NJ; ++jj) Finish(job, acc[jj], _mm_cvtss_f32(off[jj]), r, j + jj);
}

// Block b of NJ weight rows (block points at the first, row_bytes apart;
// columns jc .. jc + NJ of acc / off) against activation rows i0 .. i0 + rows.
// With 512-bit vectors (kZmm) a pair of weight rows shares one vector: the
// low 8 lanes are the first row's, the high 8 the second's, each lane with
// the same operations as on 256 bits.
template <WeightType T, int NJ>
TALKIE_LOWP_TARGET inline void BlockRows(const GgmlInt8Job& job, const uint8_t* block,
                                         int64_t row_bytes, int64_t b, int64_t i0, int64_t rows,
                                         float (*acc)[16][8], float (*off)[16], int64_t jc) {
  using F = Format<T>;
  const int64_t groups = job.x.k / 32;
  GgmlGroupConsts c[NJ];
  for (int jj = 0; jj < NJ; ++jj) GgmlBlockConsts(T, block + jj * row_bytes, &c[jj]);
  for (int g = 0; g < F::kPerBlock; ++g) {
    __m256i u[NJ];
    __m256 a[NJ];
    for (int jj = 0; jj < NJ; ++jj) {
      u[jj] = Codes<T>(block + jj * row_bytes, g);
      const float a0 = c[jj].a[g][0], a1 = c[jj].a[g][1];
      a[jj] = _mm256_setr_ps(a0, a0, a0, a0, a1, a1, a1, a1);
    }
    const int64_t gi = b * F::kPerBlock + g;
    if constexpr (kZmm && NJ == 2) {
      const __m512i u2 = _mm512_inserti64x4(_mm512_castsi256_si512(u[0]), u[1], 1);
      const __m512 a2 = _mm512_insertf32x8(_mm512_castps256_ps512(a[0]), a[1], 1);
      const __m128 b2 = _mm_setr_ps(c[0].b[g], c[1].b[g], 0.0f, 0.0f);
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t r = i0 + i;
        const int64_t k = job.x.k;
        const float dx = job.x.d[r * groups + gi];
        const __m512i qx = _mm512_broadcast_i64x4(
            Load32(reinterpret_cast<const uint8_t*>(job.x.q + r * k + 32 * gi)));
        __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u2, qx);
        if constexpr (T != WeightType::kQ4_K) {
          const __m512i sums = _mm512_broadcast_i64x4(_mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(job.sum4 + r * (k / 4) + 8 * gi)));
          s = _mm512_sub_epi32(s, _mm512_slli_epi32(sums, F::kOffsetShift));
        }
        const __m512 scale = _mm512_mul_ps(a2, _mm512_set1_ps(dx));
        float* p = acc[i][jc];
        _mm512_store_ps(p, _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, _mm512_load_ps(p)));
        if constexpr (F::kMin) {  // both rows' min terms in two lanes
          const __m128 sum = _mm_set1_ps(static_cast<float>(job.x.sum[r * groups + gi]));
          float* o = &off[i][jc];
          const __m128 prev = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(o)));
          const __m128 next = _mm_fmadd_ps(sum, _mm_mul_ps(b2, _mm_set1_ps(dx)), prev);
          _mm_store_sd(reinterpret_cast<double*>(o), _mm_castps_pd(next));
        }
      }
      continue;
    }
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t r = i0 + i;
      const float dx = job.x.d[r * groups + gi];
      const __m256 vdx = _mm256_set1_ps(dx);
      for (int jj = 0; jj < NJ; ++jj) {
        const __m256i s = GroupDot<T>(job, u[jj], r, gi);
        const __m256 scale = _mm256_mul_ps(a[jj], vdx);
        float* p = acc[i][jc + jj];
        _mm256_store_ps(p, _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, _mm256_load_ps(p)));
        if constexpr (F::kMin) {
          const float sum = static_cast<float>(job.x.sum[r * groups + gi]);
          off[i][jc + jj] = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(sum), _mm_set_ss(c[jj].b[g] * dx),
                                                       _mm_set_ss(off[i][jc + jj])));
        }
      }
    }
  }
}

template <WeightType T>
TALKIE_LOWP_TARGET void GgmlRows(const GgmlInt8Job& job, int64_t i0, int64_t i1, int64_t j0,
                                 int64_t j1) {
  if (i1 - i0 <= 4) {
    for (int64_t r = i0; r < i1; ++r) {
      int64_t j = j0;
      for (; j + 4 <= j1; j += 4) FewRows<T, 4>(job, r, j);
      for (; j < j1; ++j) FewRows<T, 1>(job, r, j);
    }
    return;
  }
  // Many rows (prefill): block by block over the chunk's weight rows, so a
  // block's activations (at most kGgmlMaxRows rows of 32 or 256 codes) stay
  // in L1 while every weight row of the chunk uses them; two weight rows at
  // a time share each activation load. Sums live in acc between blocks.
  using F = Format<T>;
  const WeightMatrix& w = *job.w;
  const int64_t k = w.cols, rows = i1 - i0, cols = j1 - j0;
  alignas(64) float acc[kGgmlMaxRows][16][8];
  float off[kGgmlMaxRows][16];
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t jj = 0; jj < cols; ++jj) {
      _mm256_store_ps(acc[i][jj], _mm256_setzero_ps());
      off[i][jj] = 0.0f;
    }
  }
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  const int64_t row_bytes = (k / F::kElems) * F::kBytes;
  for (int64_t b = 0; b < k / F::kElems; ++b) {
    int64_t jj = 0;
    for (; jj + 2 <= cols; jj += 2)
      BlockRows<T, 2>(job, base + (j0 + jj) * row_bytes + b * F::kBytes, row_bytes, b, i0, rows,
                      acc, off, jj);
    for (; jj < cols; ++jj)
      BlockRows<T, 1>(job, base + (j0 + jj) * row_bytes + b * F::kBytes, row_bytes, b, i0, rows,
                      acc, off, jj);
  }
  for (int64_t jj = 0; jj < cols; ++jj)
    for (int64_t i = 0; i < rows; ++i)
      Finish(job, _mm256_load_ps(acc[i][jj]), off[i][jj], i0 + i, j0 + jj);
}

TALKIE_LOWP_TARGET inline void GgmlRowsAny(const GgmlInt8Job& job, int64_t i0, int64_t i1,
                                           int64_t j0, int64_t j1) {
  switch (job.w->type) {
    case WeightType::kQ4_K:
      return GgmlRows<WeightType::kQ4_K>(job, i0, i1, j0, j1);
    case WeightType::kQ5_0:
      return GgmlRows<WeightType::kQ5_0>(job, i0, i1, j0, j1);
    default:
      return GgmlRows<WeightType::kQ6_K>(job, i0, i1, j0, j1);
  }
}
