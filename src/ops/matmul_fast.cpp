// SIMD matmul y = x W^T over bf16 / f32 weights, with Highway's runtime
// dispatch (AVX-512, AVX2, NEON, ... and a portable fallback).
//
// Each output y[i][j] owns one vector accumulator: lane l sums the products
// of k = l, l + N, l + 2N, ... in order (fused multiply-add), a zero-padded
// tail finishes the last partial vector, and the lanes are added in index
// order. Tiles of up to 4 rows x 4 columns only share loads, never
// accumulators, so every output element gets the same arithmetic whether it
// is computed alone (decode), in a full tile (prefill), or by any thread.
#include "ops/matmul.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/matmul_fast.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>

#include "ops/parallel.h"

HWY_BEFORE_NAMESPACE();
namespace talkie::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
// Upper bound on float lanes of any target (HWY_MAX_BYTES / 4).
constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);

HWY_INLINE VF LoadRow(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE VF LoadRow(DF df, const uint16_t* p) {
  // bf16 -> f32 is exact: the bf16 bits are the high half of the float.
  const hn::Rebind<uint16_t, DF> d16;
  const hn::RebindToUnsigned<DF> d32;
  return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(d32, hn::LoadU(d16, p))));
}

// Adds the lanes in index order (fixed, so results never depend on the target's
// own reduction tree).
HWY_INLINE float SumLanes(DF df, VF v) {
  HWY_ALIGN float lanes[kMaxLanes];
  hn::Store(v, df, lanes);
  float s = lanes[0];
  for (size_t l = 1; l < hn::Lanes(df); ++l) s += lanes[l];
  return s;
}

// acc[i][j] += x_i * w_j for one vector of k (weights scaled first if asked).
template <int MR, int NR, bool kScaled, typename W>
HWY_INLINE void Accumulate(DF df, const float* const* xs, const W* const* ws, VF vscale, VF (&acc)[MR][NR]) {
  VF wv[NR];
  for (int j = 0; j < NR; ++j) {
    wv[j] = LoadRow(df, ws[j]);
    if constexpr (kScaled) wv[j] = hn::Mul(wv[j], vscale);
  }
  for (int i = 0; i < MR; ++i) {
    const VF xv = hn::LoadU(df, xs[i]);
    for (int j = 0; j < NR; ++j) acc[i][j] = hn::MulAdd(xv, wv[j], acc[i][j]);
  }
}

// One MR x NR tile: rows x[0..MR) (stride k) against weight rows w[0..NR).
template <int MR, int NR, bool kScaled, typename W>
HWY_INLINE void Tile(const float* x, const W* w, int64_t k, float scale, float* y, int64_t ldy) {
  const DF df;
  const auto n_lanes = static_cast<int64_t>(hn::Lanes(df));
  const VF vscale = hn::Set(df, scale);
  VF acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = hn::Zero(df);
  const float* xs[MR];
  const W* ws[NR];
  int64_t kk = 0;
  for (; kk + n_lanes <= k; kk += n_lanes) {
    for (int i = 0; i < MR; ++i) xs[i] = x + i * k + kk;
    for (int j = 0; j < NR; ++j) ws[j] = w + j * k + kk;
    Accumulate<MR, NR, kScaled>(df, xs, ws, vscale, acc);
  }
  if (kk < k) {  // zero-padded tail: 0 * w adds exactly nothing
    HWY_ALIGN float xt[MR][kMaxLanes] = {};
    HWY_ALIGN W wt[NR][kMaxLanes] = {};
    for (int i = 0; i < MR; ++i) {
      std::copy(x + i * k + kk, x + i * k + k, xt[i]);
      xs[i] = xt[i];
    }
    for (int j = 0; j < NR; ++j) {
      std::copy(w + j * k + kk, w + j * k + k, wt[j]);
      ws[j] = wt[j];
    }
    Accumulate<MR, NR, kScaled>(df, xs, ws, vscale, acc);
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) y[i * ldy + j] = SumLanes(df, acc[i][j]);
}

template <int MR, bool kScaled, typename W>
HWY_INLINE void RowBlock(const float* x, const W* w, int64_t k, int64_t j0, int64_t j1, float scale, float* y,
                         int64_t ldy) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) Tile<MR, 4, kScaled>(x, w + j * k, k, scale, y + j, ldy);
  for (; j < j1; ++j) Tile<MR, 1, kScaled>(x, w + j * k, k, scale, y + j, ldy);
}

template <bool kScaled, typename W>
void MatMulTyped(const float* x, int64_t m, const W* w, int64_t n, int64_t k, float scale, float* y) {
  // Rows in blocks that stay in L2 while every weight row streams past once;
  // threads split the weight rows (output columns) of each block.
  const int64_t rows_per_block = std::max<int64_t>(4, (256 * 1024) / (k * 4) / 4 * 4);
  const int64_t col_chunk = 16;
  const int64_t chunks = (n + col_chunk - 1) / col_chunk;
  for (int64_t i0 = 0; i0 < m; i0 += rows_per_block) {
    const int64_t i1 = std::min(m, i0 + rows_per_block);
#pragma omp parallel for schedule(static) num_threads(NumThreads())
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t j0 = c * col_chunk, j1 = std::min(n, j0 + col_chunk);
      int64_t i = i0;
      for (; i + 4 <= i1; i += 4) RowBlock<4, kScaled>(x + i * k, w, k, j0, j1, scale, y + i * n, n);
      for (; i < i1; ++i) RowBlock<1, kScaled>(x + i * k, w, k, j0, j1, scale, y + i * n, n);
    }
  }
}

void MatMulFastImpl(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  if (w.type == WeightType::kBF16) {
    const auto* p = static_cast<const uint16_t*>(w.data);
    if (w.has_scale) return MatMulTyped<true>(x, m, p, w.rows, w.cols, w.scale, y);
    return MatMulTyped<false>(x, m, p, w.rows, w.cols, 1.0f, y);
  }
  const auto* p = static_cast<const float*>(w.data);
  if (w.has_scale) return MatMulTyped<true>(x, m, p, w.rows, w.cols, w.scale, y);
  return MatMulTyped<false>(x, m, p, w.rows, w.cols, 1.0f, y);
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace talkie::ops {

HWY_EXPORT(MatMulFastImpl);

void MatMul(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  if (w.type == WeightType::kF16) return MatMulReference(x, m, w, y);
  HWY_DYNAMIC_DISPATCH(MatMulFastImpl)(x, m, w, y);
}

const char* MatMulTarget() {
  // The best target both compiled in and supported by this CPU (lowest bit).
  const auto targets = static_cast<uint32_t>(hwy::SupportedTargets() & HWY_TARGETS);
  return hwy::TargetName(targets & (~targets + 1));
}

}  // namespace talkie::ops
#endif  // HWY_ONCE
