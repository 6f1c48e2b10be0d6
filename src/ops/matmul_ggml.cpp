// SIMD matmul over ggml block weights (Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K,
// Q6_K) with Highway's runtime dispatch; see matmul_ggml.h.
//
// Weight rows stream through in spans of 256 values: a span of every row of
// a 16-row chunk is dequantized into a buffer (vector code of the same
// float32 operations as the plain dequantizer, so the same bits), then every
// activation row of the block adds its products to the outputs' sixteen
// partial sums, kept in a small buffer between spans. A partial sum is
// kGgmlDotLanes / N vectors of N lanes (N = 16 on AVX-512, 8 on AVX2, 4 on
// SSE4 / NEON, 1 on scalar), which is the reference's order whatever N is.
// Products and sums are separate roundings (Mul then Add: Highway's MulAdd is
// fused on some targets and not on others; CMakeLists.txt also compiles this
// file with -ffp-contract=off so the compiler fuses nothing).
#include "ops/matmul_ggml.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/matmul_ggml.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/number_formats.h"
#include "ops/ggml_blocks.h"
#include "ops/matmul.h"
#include "ops/parallel.h"

HWY_BEFORE_NAMESPACE();
namespace talkie::ops {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::CappedTag<float, kGgmlDotLanes>;
using V = hn::Vec<D>;
using DI = hn::RebindToSigned<D>;
using DU = hn::RebindToUnsigned<D>;
using D8 = hn::Rebind<uint8_t, D>;
constexpr int64_t kN = static_cast<int64_t>(hn::MaxLanes(D()));
constexpr int kVecs = static_cast<int>(kGgmlDotLanes / kN);  // vectors per partial sum
constexpr int64_t kSpan = 256;                               // values dequantized at a time
constexpr int64_t kChunkRows = 16;                           // weight rows per work item

float F16At(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToFloat(h);
}

// kN bytes from p as int32 lanes.
HWY_INLINE hn::Vec<DI> Bytes(const uint8_t* p) { return hn::PromoteTo(DI(), hn::LoadU(D8(), p)); }
HWY_INLINE hn::Vec<DI> Low(hn::Vec<DI> b) { return hn::And(b, hn::Set(DI(), 15)); }
HWY_INLINE hn::Vec<DI> High(hn::Vec<DI> b) { return hn::ShiftRight<4>(b); }
HWY_INLINE V Float(hn::Vec<DI> q) { return hn::ConvertTo(D(), q); }

// Bit e, e + 1, ... of a Q5 block's 32 high bits, as the code's fifth bit.
HWY_INLINE hn::Vec<DI> FifthBits(uint32_t bits, int64_t e) {
  const DU du;
  const auto shifted = hn::Set(du, bits) >> hn::Iota(du, static_cast<uint32_t>(e));
  return hn::BitCast(DI(), hn::ShiftLeft<4>(hn::And(shifted, hn::Set(du, 1))));
}

// Each function below dequantizes one block into out, with the operations
// of DequantizeGgmlBlock (ggml_blocks.cpp) in its order.
void Q4_1Block(const uint8_t* b, float* out) {
  const D d;
  const V vd = hn::Set(d, F16At(b)), vm = hn::Set(d, F16At(b + 2));
  for (int64_t i = 0; i < 16; i += kN) {
    const auto bytes = Bytes(b + 4 + i);
    hn::StoreU(hn::Add(hn::Mul(vd, Float(Low(bytes))), vm), d, out + i);
    hn::StoreU(hn::Add(hn::Mul(vd, Float(High(bytes))), vm), d, out + 16 + i);
  }
}

template <bool kOffset>  // Q5_1 (d*q + m) or Q5_0 (d*(q - 16))
void Q5Block(const uint8_t* b, float* out) {
  const D d;
  const V vd = hn::Set(d, F16At(b));
  const V vm = hn::Set(d, kOffset ? F16At(b + 2) : 0.0f);
  const uint8_t* qh = b + (kOffset ? 4 : 2);
  const uint8_t* qs = qh + 4;
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const auto sixteen = hn::Set(DI(), 16);
  for (int64_t i = 0; i < 16; i += kN) {
    const auto bytes = Bytes(qs + i);
    auto lo = hn::Or(Low(bytes), FifthBits(bits, i));
    auto hi = hn::Or(High(bytes), FifthBits(bits, 16 + i));
    if constexpr (kOffset) {
      hn::StoreU(hn::Add(hn::Mul(vd, Float(lo)), vm), d, out + i);
      hn::StoreU(hn::Add(hn::Mul(vd, Float(hi)), vm), d, out + 16 + i);
    } else {
      hn::StoreU(hn::Mul(vd, Float(hn::Sub(lo, sixteen))), d, out + i);
      hn::StoreU(hn::Mul(vd, Float(hn::Sub(hi, sixteen))), d, out + 16 + i);
    }
  }
}

void Iq4NlBlock(const uint8_t* b, float* out) {
  static constexpr float kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};
  const D d;
  const V vd = hn::Set(d, F16At(b));
  for (int64_t i = 0; i < 16; i += kN) {
    const auto bytes = Bytes(b + 2 + i);
    hn::StoreU(hn::Mul(vd, hn::GatherIndex(d, kLevels, Low(bytes))), d, out + i);
    hn::StoreU(hn::Mul(vd, hn::GatherIndex(d, kLevels, High(bytes))), d, out + 16 + i);
  }
}

template <bool kFiveBits>  // Q5_K or Q4_K
void KBlock(const uint8_t* b, float* out) {
  const D d;
  const float dd = F16At(b), dmin = F16At(b + 2);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = kFiveBits ? b + 48 : b + 16;
  for (int j = 0; j < 8; ++j) {
    int sc, mn;
    GgmlK4ScaleMin(b + 4, j, &sc, &mn);
    const V ds = hn::Set(d, dd * static_cast<float>(sc));
    const V ms = hn::Set(d, dmin * static_cast<float>(mn));
    for (int64_t l = 0; l < 32; l += kN) {
      const auto bytes = Bytes(qs + 32 * (j / 2) + l);
      auto q = j % 2 == 0 ? Low(bytes) : High(bytes);
      if constexpr (kFiveBits) {
        const auto high = hn::And(hn::ShiftRightSame(Bytes(qh + l), j), hn::Set(DI(), 1));
        q = hn::Or(q, hn::ShiftLeft<4>(high));
      }
      hn::StoreU(hn::Sub(hn::Mul(ds, Float(q)), ms), d, out + 32 * j + l);
    }
  }
}

void Q6KBlock(const uint8_t* b, float* out) {
  const D d;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float dd = F16At(b + 208);
  for (int t = 0; t < 8; ++t) {
    const int h = t / 4, s = t % 4;
    for (int64_t l = 0; l < 32; l += kN) {
      const auto low = Bytes(b + 64 * h + 32 * (s % 2) + l);
      const auto high =
          hn::And(hn::ShiftRightSame(Bytes(b + 128 + 32 * h + l), 2 * s), hn::Set(DI(), 3));
      const auto q =
          hn::Sub(hn::Or(s < 2 ? Low(low) : High(low), hn::ShiftLeft<4>(high)), hn::Set(DI(), 32));
      const int64_t e = 32 * t + l;  // kN divides 16: one scale per vector
      const V ds = hn::Set(d, dd * static_cast<float>(scales[e / 16]));
      hn::StoreU(hn::Mul(ds, Float(q)), d, out + e);
    }
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn BlockFunction(WeightType type) {
  switch (type) {
    case WeightType::kQ4_1:
      return Q4_1Block;
    case WeightType::kQ5_0:
      return Q5Block<false>;
    case WeightType::kQ5_1:
      return Q5Block<true>;
    case WeightType::kIQ4_NL:
      return Iq4NlBlock;
    case WeightType::kQ4_K:
      return KBlock<false>;
    case WeightType::kQ5_K:
      return KBlock<true>;
    case WeightType::kQ6_K:
      return Q6KBlock;
    default:
      return nullptr;
  }
}

// Values [e0, e0 + len) of row r, as WeightRowToFloat gives them (negated
// rows, then the scale).
void DequantizeSpan(const WeightMatrix& w, BlockFn fn, const GgmlBlockFormat& f, int64_t r,
                    int64_t e0, int64_t len, float* out) {
  const uint8_t* row = GgmlRow(w, r);
  for (int64_t e = 0; e < len; e += f.elems) fn(row + (e0 + e) / f.elems * f.bytes, out + e);
  const bool negate = w.negated_rows != nullptr && w.negated_rows[r] != 0;
  if (!negate && !w.has_scale) return;
  const D d;
  const V scale = hn::Set(d, w.scale);
  for (int64_t e = 0; e < len; e += kN) {
    V v = hn::LoadU(d, out + e);
    if (negate) v = hn::Neg(v);
    if (w.has_scale) v = hn::Mul(v, scale);
    hn::StoreU(v, d, out + e);
  }
}

// Partial sums of an MR x NR tile for one span: acc holds, per output,
// kGgmlDotLanes floats (row i, column j at acc + (i * ldacc + j) * 16).
template <int MR, int NR>
HWY_INLINE void SpanTile(const float* x, int64_t ldx, const float* wbuf, int64_t len, float* acc,
                         int64_t ldacc) {
  const D d;
  V a[MR][NR][kVecs];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      for (int v = 0; v < kVecs; ++v)
        a[i][j][v] = hn::LoadU(d, acc + (i * ldacc + j) * kGgmlDotLanes + v * kN);
  for (int64_t kk = 0; kk < len; kk += kGgmlDotLanes) {
    for (int v = 0; v < kVecs; ++v) {
      V wv[NR];
      for (int j = 0; j < NR; ++j) wv[j] = hn::LoadU(d, wbuf + j * kSpan + kk + v * kN);
      for (int i = 0; i < MR; ++i) {
        const V xv = hn::LoadU(d, x + i * ldx + kk + v * kN);
        for (int j = 0; j < NR; ++j) a[i][j][v] = hn::Add(a[i][j][v], hn::Mul(xv, wv[j]));
      }
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j)
      for (int v = 0; v < kVecs; ++v)
        hn::StoreU(a[i][j][v], d, acc + (i * ldacc + j) * kGgmlDotLanes + v * kN);
}

// Tile shape per width: at most 16 accumulator vectors.
constexpr int kMR = kVecs == 1 ? 4 : 2;
constexpr int kNR = kVecs == 1 ? 4 : kVecs == 2 ? 2 : 1;

void SpanRows(const float* x, int64_t ldx, int64_t rows, const float* wbuf, int64_t cols,
              int64_t len, float* acc) {
  int64_t i = 0;
  for (; i + kMR <= rows; i += kMR) {
    int64_t j = 0;
    for (; j + kNR <= cols; j += kNR)
      SpanTile<kMR, kNR>(x + i * ldx, ldx, wbuf + j * kSpan, len,
                         acc + (i * cols + j) * kGgmlDotLanes, cols);
    for (; j < cols; ++j)
      SpanTile<kMR, 1>(x + i * ldx, ldx, wbuf + j * kSpan, len,
                       acc + (i * cols + j) * kGgmlDotLanes, cols);
  }
  for (; i < rows; ++i) {
    int64_t j = 0;
    for (; j + kNR <= cols; j += kNR)
      SpanTile<1, kNR>(x + i * ldx, ldx, wbuf + j * kSpan, len,
                       acc + (i * cols + j) * kGgmlDotLanes, cols);
    for (; j < cols; ++j)
      SpanTile<1, 1>(x + i * ldx, ldx, wbuf + j * kSpan, len, acc + (i * cols + j) * kGgmlDotLanes,
                     cols);
  }
}

// Few activation rows (decode): NJ weight rows at a time, whole rows, the
// partial sums in registers (no reuse of a dequantized span to gain from
// the buffer of partial sums, and NJ sequential streams instead of 16).
// The same operations per output as SpanTile, so the same bits.
template <int MR, int NJ>
void FewRows(const float* x, int64_t k, const WeightMatrix& w, BlockFn fn, const GgmlBlockFormat& f,
             int64_t j, float* wbuf, float* y, int64_t ldy) {
  const D d;
  V a[MR][NJ][kVecs];
  for (int i = 0; i < MR; ++i)
    for (int jj = 0; jj < NJ; ++jj)
      for (int v = 0; v < kVecs; ++v) a[i][jj][v] = hn::Zero(d);
  for (int64_t e0 = 0; e0 < k; e0 += kSpan) {
    const int64_t len = std::min(kSpan, k - e0);
    for (int jj = 0; jj < NJ; ++jj) DequantizeSpan(w, fn, f, j + jj, e0, len, wbuf + jj * kSpan);
    for (int64_t kk = 0; kk < len; kk += kGgmlDotLanes) {
      for (int v = 0; v < kVecs; ++v) {
        V wv[NJ];
        for (int jj = 0; jj < NJ; ++jj) wv[jj] = hn::LoadU(d, wbuf + jj * kSpan + kk + v * kN);
        for (int i = 0; i < MR; ++i) {
          const V xv = hn::LoadU(d, x + i * k + e0 + kk + v * kN);
          for (int jj = 0; jj < NJ; ++jj) a[i][jj][v] = hn::Add(a[i][jj][v], hn::Mul(xv, wv[jj]));
        }
      }
    }
  }
  HWY_ALIGN float part[kGgmlDotLanes];
  for (int i = 0; i < MR; ++i) {
    for (int jj = 0; jj < NJ; ++jj) {
      for (int v = 0; v < kVecs; ++v) hn::Store(a[i][jj][v], d, part + v * kN);
      float sum = part[0];
      for (int l = 1; l < kGgmlDotLanes; ++l) sum += part[l];
      y[i * ldy + j + jj] = sum;
    }
  }
}

template <int MR>
void FewRowsChunk(const float* x, int64_t k, const WeightMatrix& w, BlockFn fn,
                  const GgmlBlockFormat& f, int64_t j0, int64_t j1, float* wbuf, float* y) {
  constexpr int kNJ = kVecs == 1 ? 4 : kVecs == 2 ? 2 : 1;  // at most 16 accumulators
  int64_t j = j0;
  for (; j + kNJ <= j1; j += kNJ) FewRows<MR, kNJ>(x, k, w, fn, f, j, wbuf, y, w.rows);
  for (; j < j1; ++j) FewRows<MR, 1>(x, k, w, fn, f, j, wbuf, y, w.rows);
}

void MatMulGgmlSimd(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  const int64_t n = w.rows, k = w.cols;
  const BlockFn fn = BlockFunction(w.type);
  const GgmlBlockFormat f = GgmlBlock(w.type);
  // kSpan is a whole number of blocks; a row's last span may be shorter.
  const int64_t rows_per_block = std::min<int64_t>(64, MatMulRowsPerBlock(k * 4));
  const int64_t chunks = (n + kChunkRows - 1) / kChunkRows;
  for (int64_t i0 = 0; i0 < m; i0 += rows_per_block) {
    const int64_t i1 = std::min(m, i0 + rows_per_block), rows = i1 - i0;
#pragma omp parallel num_threads(NumThreads())
    {
      std::vector<float> wbuf(static_cast<size_t>(kChunkRows * kSpan));
      std::vector<float> acc(static_cast<size_t>(rows * kChunkRows * kGgmlDotLanes));
#pragma omp for schedule(static)
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t j0 = c * kChunkRows, cols = std::min(n, j0 + kChunkRows) - j0;
        if (rows <= 2) {
          float* yi = y + i0 * n;
          if (rows == 1) FewRowsChunk<1>(x + i0 * k, k, w, fn, f, j0, j0 + cols, wbuf.data(), yi);
          if (rows == 2) FewRowsChunk<2>(x + i0 * k, k, w, fn, f, j0, j0 + cols, wbuf.data(), yi);
          continue;
        }
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t e0 = 0; e0 < k; e0 += kSpan) {
          const int64_t len = std::min(kSpan, k - e0);
          for (int64_t j = 0; j < cols; ++j)
            DequantizeSpan(w, fn, f, j0 + j, e0, len, wbuf.data() + j * kSpan);
          SpanRows(x + i0 * k + e0, k, rows, wbuf.data(), cols, len, acc.data());
        }
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t j = 0; j < cols; ++j) {
            const float* part = acc.data() + (i * cols + j) * kGgmlDotLanes;
            float sum = part[0];
            for (int l = 1; l < kGgmlDotLanes; ++l) sum += part[l];
            y[(i0 + i) * n + j0 + j] = sum;
          }
        }
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace talkie::ops {

HWY_EXPORT(MatMulGgmlSimd);

void MatMulGgml(const float* x, int64_t m, const WeightMatrix& w, float* y) {
  if (m <= 0) return;
  HWY_DYNAMIC_DISPATCH(MatMulGgmlSimd)(x, m, w, y);
}

}  // namespace talkie::ops
#endif  // HWY_ONCE
