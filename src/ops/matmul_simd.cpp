// SIMD matmul y = x W^T over f32 / bf16 / f16 / q8 / q4 weights and float32
// activations, with Highway's runtime dispatch (AVX-512, AVX2, NEON, ...).
//
// Each output y[i][j] owns one vector accumulator: lane l sums the products of
// k = l, l + N, l + 2N, ... in order (fused multiply-add; quantized weights
// are dequantized to float first), a zero-padded tail finishes the last
// partial vector, and the lanes are added in index order. Tiles of up to
// 4 rows x 4 columns only share loads, never accumulators, so every output
// element gets the same arithmetic whether it is computed alone (decode), in
// a full tile (prefill), or by any thread.
#include "ops/matmul.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/matmul_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "ops/simd-inl.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/number_formats.h"
#include "ops/matmul_ggml.h"
#include "ops/matmul_lowp.h"
#include "ops/parallel.h"

HWY_BEFORE_NAMESPACE();
namespace talkie::ops {
namespace HWY_NAMESPACE {

// Row access policies: Load(df, row, kk) returns weights [kk, kk + N) of a row
// as floats; Widen(row, kk, out) writes the tail [kk, cols) as floats.
struct F32Rows {
  static constexpr bool kGrouped = false;
  const float* p;
  int64_t k;
  HWY_INLINE VF Load(DF df, int64_t r, int64_t kk) const { return hn::LoadU(df, p + r * k + kk); }
};

struct Bf16Rows {
  static constexpr bool kGrouped = false;
  const uint16_t* p;
  int64_t k;
  HWY_INLINE VF Load(DF df, int64_t r, int64_t kk) const { return LoadBf16(df, p + r * k + kk); }
};

struct F16Rows {
  static constexpr bool kGrouped = false;
  const uint16_t* p;
  int64_t k;
  HWY_INLINE VF Load(DF df, int64_t r, int64_t kk) const { return LoadF16(df, p + r * k + kk); }
};

// Quantized rows expose the codes (as floats) and the group scale separately,
// so the scale is applied once per group (see GroupedTile).
struct GroupScales {
  static constexpr bool kGrouped = true;
  const uint16_t* scales;  // f16 [rows, k / 32]
  int64_t k;
  HWY_INLINE float Scale(int64_t r, int64_t kk) const {
    return F16ToFloatFinite(scales[r * (k / kQuantGroup) + kk / kQuantGroup]);
  }
};

struct Q8Rows : GroupScales {
  const int8_t* p;
  HWY_INLINE VF Codes(DF df, int64_t r, int64_t kk) const {
    const hn::Rebind<int8_t, DF> d8;
    const hn::RebindToSigned<DF> di;
    return hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, p + r * k + kk)));
  }
};

// q4 groups hold element i in the low nibble of byte i and element i + 16 in
// the high nibble, so a vector of N <= 16 lanes reads N bytes either way.
struct Q4Rows : GroupScales {
  const uint8_t* p;
  HWY_INLINE VF Codes(DF df, int64_t r, int64_t kk) const {
    const hn::Rebind<uint8_t, DF> d8;
    const hn::RebindToSigned<DF> di;
    const int64_t group = kk / kQuantGroup, within = kk % kQuantGroup;
    const auto bytes = hn::PromoteTo(di, hn::LoadU(d8, p + r * (k / 2) + group * 16 + within % 16));
    const auto nibble = hn::And(hn::ShiftRightSame(bytes, within < 16 ? 0 : 4), hn::Set(di, 15));
    return hn::ConvertTo(df, hn::Sub(nibble, hn::Set(di, 8)));
  }
};

// acc[i][j] += x_i * w_j for one vector of k (weights scaled first if asked).
template <int MR, int NR, bool kScaled>
HWY_INLINE void Accumulate(const float* const* xs, const VF (&wv)[NR], VF (&acc)[MR][NR]) {
  const DF df;
  for (int i = 0; i < MR; ++i) {
    const VF xv = hn::LoadU(df, xs[i]);
    for (int j = 0; j < NR; ++j) acc[i][j] = hn::MulAdd(xv, wv[j], acc[i][j]);
  }
}

// The last partial vector of k, zero-padded: 0 * w adds exactly nothing.
template <int MR, int NR, bool kScaled>
HWY_NOINLINE void AccumulateTail(const float* x, int64_t j0, int64_t k, int64_t kk,
                                 const WeightMatrix& w, VF (&acc)[MR][NR]) {
  const DF df;
  HWY_ALIGN float xt[MR][kMaxLanes] = {};
  HWY_ALIGN float wt[kMaxLanes];
  std::vector<float> row(static_cast<size_t>(k));
  VF wv[NR];
  const float* xs[MR];
  for (int j = 0; j < NR; ++j) {
    WeightRowToFloat(w, j0 + j, row.data());  // includes the scale
    std::fill(wt, wt + kMaxLanes, 0.0f);
    std::copy(row.begin() + kk, row.end(), wt);
    wv[j] = hn::Load(df, wt);
  }
  for (int i = 0; i < MR; ++i) {
    std::copy(x + i * k + kk, x + i * k + k, xt[i]);
    xs[i] = xt[i];
  }
  Accumulate<MR, NR, kScaled>(xs, wv, acc);
}

// One MR x NR tile: activation rows x[0..MR) (stride k) against weight rows
// j0 .. j0 + NR of `rows`.
template <int MR, int NR, bool kScaled, class Rows>
HWY_INLINE void Tile(const float* x, const Rows& rows, int64_t j0, int64_t k, float scale, float* y,
                     int64_t ldy, const WeightMatrix& w) {
  const DF df;
  const auto n_lanes = static_cast<int64_t>(hn::Lanes(df));
  const VF vscale = hn::Set(df, scale);
  VF acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = hn::Zero(df);
  const float* xs[MR];
  VF wv[NR];
  int64_t kk = 0;
  for (; kk + n_lanes <= k; kk += n_lanes) {
    for (int j = 0; j < NR; ++j) {
      wv[j] = rows.Load(df, j0 + j, kk);
      if constexpr (kScaled) wv[j] = hn::Mul(wv[j], vscale);
    }
    for (int i = 0; i < MR; ++i) xs[i] = x + i * k + kk;
    Accumulate<MR, NR, kScaled>(xs, wv, acc);
  }
  if (kk < k) AccumulateTail<MR, NR, kScaled>(x, j0, k, kk, w, acc);
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) y[i * ldy + j] = SumLanesInOrder(df, acc[i][j]);
}

// Quantized rows: y = sum over groups of d_g * (sum over the group of x * q).
// Each output keeps a group accumulator (q * x over the group's vectors) that
// is scaled and added to its total once per group, halving the per-weight
// work. Every path over quantized weights uses this same arithmetic.
template <int MR, int NR, bool kScaled, class Rows>
HWY_INLINE void GroupedTile(const float* x, const Rows& rows, int64_t j0, int64_t k, float scale,
                            float* y, int64_t ldy) {
  const DF df;
  const auto n_lanes = static_cast<int64_t>(hn::Lanes(df));
  const VF vscale = hn::Set(df, scale);
  VF acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = hn::Zero(df);
  for (int64_t g = 0; g < k; g += kQuantGroup) {
    VF group[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) group[i][j] = hn::Zero(df);
    for (int64_t kk = g; kk < g + kQuantGroup; kk += n_lanes) {
      VF wv[NR];
      for (int j = 0; j < NR; ++j) wv[j] = rows.Codes(df, j0 + j, kk);
      for (int i = 0; i < MR; ++i) {
        const VF xv = hn::LoadU(df, x + i * k + kk);
        for (int j = 0; j < NR; ++j) group[i][j] = hn::MulAdd(xv, wv[j], group[i][j]);
      }
    }
    for (int j = 0; j < NR; ++j) {
      VF d = hn::Set(df, rows.Scale(j0 + j, g));
      if constexpr (kScaled) d = hn::Mul(d, vscale);
      for (int i = 0; i < MR; ++i) acc[i][j] = hn::MulAdd(group[i][j], d, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) y[i * ldy + j] = SumLanesInOrder(df, acc[i][j]);
}

// Quantized rows whose codes were already converted to float (prefill reuses
// them across row blocks); scales as converted floats. Same values as the
// source policy returns, so GroupedTile gives identical bits over either.
struct ConvertedRows {
  static constexpr bool kGrouped = true;
  const float* codes;
  const float* scales;  // [rows, k / 32]
  int64_t k;
  HWY_INLINE VF Codes(DF df, int64_t r, int64_t kk) const {
    return hn::LoadU(df, codes + r * k + kk);
  }
  HWY_INLINE float Scale(int64_t r, int64_t kk) const {
    return scales[r * (k / kQuantGroup) + kk / kQuantGroup];
  }
};

template <int MR, bool kScaled, class Rows>
HWY_INLINE void RowBlock(const float* x, const Rows& rows, int64_t k, int64_t j0, int64_t j1,
                         float scale, float* y, int64_t ldy, const WeightMatrix& w) {
  int64_t j = j0;
  if constexpr (Rows::kGrouped) {
    constexpr int kNR = MR == 1 ? 4 : 2;
    for (; j + kNR <= j1; j += kNR) GroupedTile<MR, kNR, kScaled>(x, rows, j, k, scale, y + j, ldy);
    for (; j < j1; ++j) GroupedTile<MR, 1, kScaled>(x, rows, j, k, scale, y + j, ldy);
  } else {
    for (; j + 4 <= j1; j += 4) Tile<MR, 4, kScaled>(x, rows, j, k, scale, y + j, ldy, w);
    for (; j < j1; ++j) Tile<MR, 1, kScaled>(x, rows, j, k, scale, y + j, ldy, w);
  }
}

// Converts the codes and scales of weight rows [j0, j1) to floats once, for
// reuse by every activation row of a block.
template <class Rows>
void ConvertCodes(const Rows& rows, int64_t j0, int64_t j1, int64_t k, float* codes,
                  float* scales) {
  const DF df;
  const auto n_lanes = static_cast<int64_t>(hn::Lanes(df));
  for (int64_t j = j0; j < j1; ++j) {
    for (int64_t g = 0; g < k; g += kQuantGroup) {
      scales[(j - j0) * (k / kQuantGroup) + g / kQuantGroup] = rows.Scale(j, g);
      for (int64_t kk = g; kk < g + kQuantGroup; kk += n_lanes)
        hn::StoreU(rows.Codes(df, j, kk), df, codes + (j - j0) * k + kk);
    }
  }
}

template <bool kScaled, class Rows>
void MatMulRows(const float* x, int64_t m, const Rows& rows, const WeightMatrix& w, float* y) {
  const int64_t n = w.rows, k = w.cols;
  // Activation rows in blocks that stay in L2 while every weight row streams
  // past once; threads split the weight rows (output columns) of each block.
  const int64_t rows_per_block = MatMulRowsPerBlock(k * 4);
  const int64_t col_chunk = 16;
  const int64_t chunks = (n + col_chunk - 1) / col_chunk;
  for (int64_t i0 = 0; i0 < m; i0 += rows_per_block) {
    const int64_t i1 = std::min(m, i0 + rows_per_block);
#pragma omp parallel num_threads(NumThreads())
    {
      std::vector<float> codes, scales;
#pragma omp for schedule(static)
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t j0 = c * col_chunk, j1 = std::min(n, j0 + col_chunk);
        if constexpr (Rows::kGrouped) {
          // Several activation rows: convert this chunk's codes once and
          // reuse them for every row, instead of once per tile.
          if (i1 - i0 > 4) {
            codes.resize(static_cast<size_t>((j1 - j0) * k));
            scales.resize(static_cast<size_t>((j1 - j0) * (k / kQuantGroup)));
            ConvertCodes(rows, j0, j1, k, codes.data(), scales.data());
            const ConvertedRows converted{codes.data(), scales.data(), k};
            int64_t i = i0;
            for (; i + 4 <= i1; i += 4)
              RowBlock<4, kScaled>(x + i * k, converted, k, 0, j1 - j0, w.scale, y + i * n + j0, n,
                                   w);
            for (; i < i1; ++i)
              RowBlock<1, kScaled>(x + i * k, converted, k, 0, j1 - j0, w.scale, y + i * n + j0, n,
                                   w);
            continue;
          }
        }
        int64_t i = i0;
        for (; i + 4 <= i1; i += 4)
          RowBlock<4, kScaled>(x + i * k, rows, k, j0, j1, w.scale, y + i * n, n, w);
        for (; i < i1; ++i)
          RowBlock<1, kScaled>(x + i * k, rows, k, j0, j1, w.scale, y + i * n, n, w);
      }
    }
  }
}

template <class Rows>
void Dispatch(const float* x, int64_t m, const Rows& rows, const WeightMatrix& w, float* y) {
  if (w.has_scale) return MatMulRows<true>(x, m, rows, w, y);
  MatMulRows<false>(x, m, rows, w, y);
}

void MatMulSimd(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  const int64_t k = w.cols;
  switch (w.type) {
    case WeightType::kBF16:
      return Dispatch(x, m, Bf16Rows{static_cast<const uint16_t*>(w.data), k}, w, y);
    case WeightType::kF32:
      return Dispatch(x, m, F32Rows{static_cast<const float*>(w.data), k}, w, y);
    case WeightType::kQ8:
    case WeightType::kQ4:
      // Vectors must not straddle groups (or, for q4, the two nibble halves).
      if (hn::Lanes(DF()) > 16 || k % kQuantGroup != 0) return MatMulReference(x, m, w, y);
      if (w.type == WeightType::kQ8)
        return Dispatch(x, m, Q8Rows{{w.group_scales, k}, static_cast<const int8_t*>(w.data)}, w,
                        y);
      return Dispatch(x, m, Q4Rows{{w.group_scales, k}, static_cast<const uint8_t*>(w.data)}, w, y);
    case WeightType::kF16:
      return Dispatch(x, m, F16Rows{static_cast<const uint16_t*>(w.data), k}, w, y);
    default:  // the ggml block types
      return MatMulGgml(x, m, w, y);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace talkie::ops {

HWY_EXPORT(MatMulSimd);

void MatMul(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  if (w.precision == Precision::kFast) return MatMulLowPrecision(x, m, w, y);
  HWY_DYNAMIC_DISPATCH(MatMulSimd)(x, m, w, y);
}

const char* MatMulTarget() {
  // The best target both compiled in and supported by this CPU (lowest bit).
  // 64 bits: HWY_SCALAR and HWY_EMU128 sit in the top bits.
  const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(targets & -targets);
}

}  // namespace talkie::ops
#endif  // HWY_ONCE
