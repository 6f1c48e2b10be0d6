// The fast policy's int8 tile, written once for every vector width. Included
// inside a namespace by matmul_lowp_avx512.cpp (512-bit) and twice by
// matmul_lowp_avx2.cpp (AVX2, AVX-VNNI), each time after defining, all with
// the attribute TALKIE_LOWP_TARGET:
//   VecI / VecF        integer / float vectors of kCols 32-bit lanes
//   kCols              output columns per vector (16 or 8)
//   LoadCodes(p)       kCols * 4 code bytes
//   Broadcast4(p)      4 activation bytes into every lane
//   DotAdd(acc, a, b)  acc + the 4-term dot product per lane of codes a
//                      and activation bytes b (s8)
//   CentreQ8(v), kQ8Offset  a q8 code vector as DotAdd takes it, and the
//                      offset left in its codes: identity and 128 where
//                      DotAdd reads u8 codes, v - 128 and 0 where it reads s8
//   LowNibbles(v), HighNibbles(v), SetI(i), ZeroI(), SubI(a, b)
//   LoadScales(p)      kCols f16 scales as floats
//   ZeroF(), SetF(f), ToFloat(v), MulF(a, b), MulAddF(a, b, c), StoreF(p, v)
// Layout and arithmetic: matmul_lowp.h. A 64-byte code vector of a packed
// block holds 16 columns, read here as 16 / kCols slices of kCols columns.

inline constexpr int kSlicesPerBlock = 16 / kCols;

// MR activation rows x NS slices starting at slice s0. Per group: exact int32
// dot products of the codes, minus the code offset times the activation code
// sum, then acc += float(dot) * (wscale * xscale).
template <int MR, int NS, bool kQ4>
TALKIE_LOWP_TARGET void Tile(const Int8Job& job, int64_t i0, int64_t s0) {
  const int64_t k = job.x.k, groups = k / 32;
  const int64_t code_bytes = kQ4 ? kQ4CodeBytes : kQ8CodeBytes;
  const int32_t offset = kQ4 ? 8 : kQ8Offset;
  const int64_t block_bytes = PackedBlockBytes(kQ4, k);
  const uint8_t* codes[NS];
  const uint8_t* scales[NS];
  for (int s = 0; s < NS; ++s) {
    const int64_t block = (s0 + s) / kSlicesPerBlock, part = (s0 + s) % kSlicesPerBlock;
    codes[s] = job.packed + block * block_bytes + 4 * kCols * part;
    scales[s] = job.packed + block * block_bytes + groups * code_bytes + 2 * kCols * part;
  }
  const int8_t* xq[MR];
  for (int i = 0; i < MR; ++i) xq[i] = job.x.q + (i0 + i) * k;

  VecF acc[MR][NS];
  for (int i = 0; i < MR; ++i)
    for (int s = 0; s < NS; ++s) acc[i][s] = ZeroF();

  for (int64_t g = 0; g < groups; ++g) {
    VecI dot[MR][NS];
    for (int i = 0; i < MR; ++i)
      for (int s = 0; s < NS; ++s) dot[i][s] = ZeroI();
    if constexpr (!kQ4) {
      for (int v = 0; v < 8; ++v) {
        VecI w[NS];
        for (int s = 0; s < NS; ++s) w[s] = CentreQ8(LoadCodes(codes[s] + g * code_bytes + 64 * v));
        for (int i = 0; i < MR; ++i) {
          const VecI xv = Broadcast4(xq[i] + 32 * g + 4 * v);
          for (int s = 0; s < NS; ++s) dot[i][s] = DotAdd(dot[i][s], w[s], xv);
        }
      }
    } else {
      for (int p = 0; p < 4; ++p) {
        VecI lo[NS], hi[NS];
        for (int s = 0; s < NS; ++s) {
          const VecI raw = LoadCodes(codes[s] + g * code_bytes + 64 * p);
          lo[s] = LowNibbles(raw);
          hi[s] = HighNibbles(raw);
        }
        for (int i = 0; i < MR; ++i) {
          const VecI xlo = Broadcast4(xq[i] + 32 * g + 8 * p);
          const VecI xhi = Broadcast4(xq[i] + 32 * g + 8 * p + 4);
          for (int s = 0; s < NS; ++s) {
            dot[i][s] = DotAdd(dot[i][s], lo[s], xlo);
            dot[i][s] = DotAdd(dot[i][s], hi[s], xhi);
          }
        }
      }
    }
    VecF wscale[NS];
    for (int s = 0; s < NS; ++s) wscale[s] = LoadScales(scales[s] + g * kScaleBytes);
    for (int i = 0; i < MR; ++i) {
      const int64_t xg = (i0 + i) * groups + g;
      const VecI correction = SetI(offset * job.x.sum[xg]);
      const VecF xscale = SetF(job.x.d[xg]);
      for (int s = 0; s < NS; ++s) {
        const VecF exact = ToFloat(SubI(dot[i][s], correction));
        acc[i][s] = MulAddF(exact, MulF(wscale[s], xscale), acc[i][s]);
      }
    }
  }

  for (int i = 0; i < MR; ++i) {
    for (int s = 0; s < NS; ++s) {
      VecF out = acc[i][s];
      if (job.scaled) out = MulF(out, SetF(job.scale));
      alignas(64) float lanes[kCols];
      StoreF(lanes, out);
      const int64_t col0 = (s0 + s) * kCols;
      float* y = job.y + (i0 + i) * job.n;
      for (int c = 0; c < kCols && col0 + c < job.n; ++c) y[col0 + c] = lanes[c];
    }
  }
}

// Rows [i0, i1) x packed blocks [b0, b1): tiles of 4 rows x 2 slices, or for
// a single row (decode) 4 slices, so several independent chains run.
template <bool kQ4>
TALKIE_LOWP_TARGET void RowRange(const Int8Job& job, int64_t i0, int64_t i1, int64_t b0,
                                 int64_t b1) {
  // Slices wholly past the last column hold zero weights: skip them.
  const int64_t s0 = b0 * kSlicesPerBlock, last = (job.n + kCols - 1) / kCols;
  const int64_t s_end = b1 * kSlicesPerBlock < last ? b1 * kSlicesPerBlock : last;
  int64_t i = i0;
  auto rows = [&](auto mr) TALKIE_LOWP_TARGET {
    constexpr int MR = decltype(mr)::value;
    constexpr int NS = MR == 1 ? 4 : 2;
    int64_t s = s0;
    for (; s + NS <= s_end; s += NS) Tile<MR, NS, kQ4>(job, i, s);
    for (; s < s_end; ++s) Tile<MR, 1, kQ4>(job, i, s);
  };
  for (; i + 4 <= i1; i += 4) rows(std::integral_constant<int, 4>{});
  for (; i < i1; ++i) rows(std::integral_constant<int, 1>{});
}
