// SIMD attention for one query (see attention.h), with Highway's runtime
// dispatch. Same structure as the reference: scores over visible keys in key
// order, max, exp-sum in key order, then the weighted sum of values in key
// order (each output element accumulates p_j * v_j[d] over j in order). The
// q.k dot product uses one vector accumulator whose lanes are added in index
// order, the same for every call, so results never depend on chunking,
// padding or threads. Keys and values may be float or bf16 (widened exactly).
#include "ops/attention.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/attention_simd.cpp"
#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "ops/simd-inl.h"

#include <cmath>
#include <limits>

#include "common/number_formats.h"

HWY_BEFORE_NAMESPACE();
namespace talkie::ops {
namespace HWY_NAMESPACE {

// Keys / values as stored: float, or bf16 widened exactly (the bits move to
// the high half of a float).
HWY_INLINE hn::Vec<DF> LoadKv(DF df, const float* p) { return hn::LoadU(df, p); }
HWY_INLINE hn::Vec<DF> LoadKv(DF df, const uint16_t* p) { return LoadBf16(df, p); }
HWY_INLINE float KvToFloat(float v) { return v; }
HWY_INLINE float KvToFloat(uint16_t v) { return Bf16ToFloat(v); }

// q . k with a zero-padded tail and lanes summed in index order.
template <class T>
HWY_INLINE float Dot(DF df, const float* q, const T* k, int64_t n) {
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  auto acc = hn::Zero(df);
  int64_t d = 0;
  for (; d + lanes <= n; d += lanes) acc = hn::MulAdd(hn::LoadU(df, q + d), LoadKv(df, k + d), acc);
  HWY_ALIGN float tail_q[kMaxLanes] = {}, tail_k[kMaxLanes] = {};
  if (d < n) {
    for (int64_t i = d; i < n; ++i) tail_q[i - d] = q[i], tail_k[i - d] = KvToFloat(k[i]);
    acc = hn::MulAdd(hn::Load(df, tail_q), hn::Load(df, tail_k), acc);
  }
  return SumLanesInOrder(df, acc);
}

// Keys and values sit one position per n_embd-wide cache row, so a head's
// consecutive positions are a page apart: the hardware prefetchers do not
// follow them. The kernels ask for the rows kPrefetchAhead positions on,
// every cache line of the head's n elements.
constexpr int64_t kPrefetchAhead = 8;
template <class T>
HWY_INLINE void PrefetchRow(const T* row, int64_t n) {
  for (int64_t b = 0; b < n * static_cast<int64_t>(sizeof(T)); b += 64)
    hwy::Prefetch(reinterpret_cast<const uint8_t*>(row) + b);
}

// Dot for four keys at once: four independent accumulator chains hide the
// FMA latency (one chain per key is latency-bound), and each key gets
// exactly Dot's arithmetic. n must be a multiple of the lanes; rows_after:
// key rows from k on (what may be prefetched).
template <class T>
HWY_INLINE void Dot4(DF df, const float* q, const T* k, int64_t stride, int64_t n, float* out,
                     int64_t rows_after) {
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  for (int64_t r = kPrefetchAhead; r < kPrefetchAhead + 4 && r < rows_after; ++r)
    PrefetchRow(k + r * stride, n);
  auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
  for (int64_t d = 0; d < n; d += lanes) {
    const auto qv = hn::LoadU(df, q + d);
    a0 = hn::MulAdd(qv, LoadKv(df, k + d), a0);
    a1 = hn::MulAdd(qv, LoadKv(df, k + stride + d), a1);
    a2 = hn::MulAdd(qv, LoadKv(df, k + 2 * stride + d), a2);
    a3 = hn::MulAdd(qv, LoadKv(df, k + 3 * stride + d), a3);
  }
  out[0] = SumLanesInOrder(df, a0);
  out[1] = SumLanesInOrder(df, a1);
  out[2] = SumLanesInOrder(df, a2);
  out[3] = SumLanesInOrder(df, a3);
}

// out[d0 + ...] += p_j * v_j[d] for kVecs vectors of d, over visible keys in
// key order, the sums held in registers across keys (not re-read from out).
template <int kVecs, class T>
HWY_INLINE void WeightValuesBlock(const float* probs, const T* values, int64_t stride,
                                  int64_t kv_len, int64_t d0, const uint8_t* visible, float* out) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  VF acc[kVecs];
  for (int v = 0; v < kVecs; ++v) acc[v] = hn::LoadU(df, out + d0 + v * lanes);
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) continue;
    const T* row = values + j * stride + d0;
    if (j + kPrefetchAhead < kv_len) PrefetchRow(row + kPrefetchAhead * stride, kVecs * lanes);
    const auto p = hn::Set(df, probs[j]);
    for (int v = 0; v < kVecs; ++v) acc[v] = hn::MulAdd(p, LoadKv(df, row + v * lanes), acc[v]);
  }
  for (int v = 0; v < kVecs; ++v) hn::StoreU(acc[v], df, out + d0 + v * lanes);
}

// out[d] += p_j * v_j[d] over visible keys in key order (out starts at 0):
// the last phase of Attend, also run alone on a patched hook_pattern. Each
// element is one fused multiply-add per key in key order, whatever the
// blocking of d.
template <class T>
HWY_INLINE void WeightValues(const float* probs, const T* values, int64_t stride, int64_t kv_len,
                             int64_t head_dim, const uint8_t* visible, float* out) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t full = head_dim / lanes * lanes;
  int64_t d = 0;
  for (; d + 8 * lanes <= full; d += 8 * lanes)
    WeightValuesBlock<8>(probs, values, stride, kv_len, d, visible, out);
  for (; d < full; d += lanes) WeightValuesBlock<1>(probs, values, stride, kv_len, d, visible, out);
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) continue;
    const T* v = values + j * stride;
    for (int64_t e = full; e < head_dim; ++e) out[e] = std::fma(probs[j], KvToFloat(v[e]), out[e]);
  }
}

// Softmax in place over the visible scores: exp(score - max) and their sum
// in key order, then each divided by the sum.
HWY_INLINE void Normalize(float* probs, const uint8_t* visible, int64_t kv_len, float max_score) {
  float sum = 0.0f;
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) continue;
    probs[j] = std::exp(probs[j] - max_score);
    sum += probs[j];
  }
  for (int64_t j = 0; j < kv_len; ++j)
    if (visible[j]) probs[j] /= sum;
}

template <class T>
HWY_INLINE void Attend(const float* q, const T* keys, const T* values, int64_t stride,
                       int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                       float* probs, float* out) {
  const DF df;
  float max_score = -std::numeric_limits<float>::infinity();
  bool any = false;
  const bool by_four = head_dim % static_cast<int64_t>(hn::Lanes(df)) == 0;
  for (int64_t j = 0; j < kv_len;) {
    if (by_four && j + 4 <= kv_len && visible[j] && visible[j + 1] && visible[j + 2] &&
        visible[j + 3]) {
      Dot4(df, q, keys + j * stride, stride, head_dim, probs + j, kv_len - j);
      for (int64_t e = j; e < j + 4; ++e) {
        probs[e] *= scale;
        if (!any || probs[e] > max_score) max_score = probs[e];
        any = true;
      }
      j += 4;
      continue;
    }
    if (!visible[j]) {
      probs[j++] = 0.0f;
      continue;
    }
    probs[j] = Dot(df, q, keys + j * stride, head_dim) * scale;
    if (!any || probs[j] > max_score) max_score = probs[j];
    any = true;
    ++j;
  }
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  if (!any) return;
  Normalize(probs, visible, kv_len, max_score);
  WeightValues(probs, values, stride, kv_len, head_dim, visible, out);
}

// Four queries of one head (consecutive rows of a prefill) over the same
// keys: each key and value row is loaded once for all four instead of once
// per query. Every query gets exactly the arithmetic Attend gives it alone:
// a key all four see goes through the shared loops, any other key through
// that query's own. head_dim must be a multiple of two vectors.
template <class T>
HWY_INLINE void Attend4(const float* const* q, const T* keys, const T* values, int64_t stride,
                        int64_t kv_len, int64_t head_dim, const uint8_t* const* visible,
                        float scale, float* const* probs, float* const* out) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  float max_score[4];
  bool any[4] = {false, false, false, false};
  auto seen = [&](int i, float score) {
    if (!any[i] || score > max_score[i]) max_score[i] = score;
    any[i] = true;
  };
  for (int64_t j = 0; j < kv_len; ++j) {
    const T* k = keys + j * stride;
    if (visible[0][j] && visible[1][j] && visible[2][j] && visible[3][j]) {
      if (j + kPrefetchAhead < kv_len) PrefetchRow(k + kPrefetchAhead * stride, head_dim);
      auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
      for (int64_t d = 0; d < head_dim; d += lanes) {
        const auto kv = LoadKv(df, k + d);
        a0 = hn::MulAdd(hn::LoadU(df, q[0] + d), kv, a0);
        a1 = hn::MulAdd(hn::LoadU(df, q[1] + d), kv, a1);
        a2 = hn::MulAdd(hn::LoadU(df, q[2] + d), kv, a2);
        a3 = hn::MulAdd(hn::LoadU(df, q[3] + d), kv, a3);
      }
      const float s[4] = {SumLanesInOrder(df, a0), SumLanesInOrder(df, a1), SumLanesInOrder(df, a2),
                          SumLanesInOrder(df, a3)};
      for (int i = 0; i < 4; ++i) seen(i, probs[i][j] = s[i] * scale);
      continue;
    }
    for (int i = 0; i < 4; ++i) {
      if (!visible[i][j]) {
        probs[i][j] = 0.0f;
        continue;
      }
      seen(i, probs[i][j] = Dot(df, q[i], k, head_dim) * scale);
    }
  }
  for (int i = 0; i < 4; ++i) {
    for (int64_t d = 0; d < head_dim; ++d) out[i][d] = 0.0f;
    if (any[i]) Normalize(probs[i], visible[i], kv_len, max_score[i]);
  }
  // The weighted sums, two vectors of d at a time for all four queries.
  for (int64_t d0 = 0; d0 < head_dim; d0 += 2 * lanes) {
    VF acc[4][2];
    for (int i = 0; i < 4; ++i)
      for (int v = 0; v < 2; ++v) acc[i][v] = hn::Zero(df);
    for (int64_t j = 0; j < kv_len; ++j) {
      const T* row = values + j * stride + d0;
      const bool all = visible[0][j] && visible[1][j] && visible[2][j] && visible[3][j];
      if (all && j + kPrefetchAhead < kv_len) PrefetchRow(row + kPrefetchAhead * stride, 2 * lanes);
      if (!all && !visible[0][j] && !visible[1][j] && !visible[2][j] && !visible[3][j]) continue;
      const VF v0 = LoadKv(df, row), v1 = LoadKv(df, row + lanes);
      for (int i = 0; i < 4; ++i) {
        if (!all && !visible[i][j]) continue;
        const auto p = hn::Set(df, probs[i][j]);
        acc[i][0] = hn::MulAdd(p, v0, acc[i][0]);
        acc[i][1] = hn::MulAdd(p, v1, acc[i][1]);
      }
    }
    for (int i = 0; i < 4; ++i)
      for (int v = 0; v < 2; ++v) hn::StoreU(acc[i][v], df, out[i] + d0 + v * lanes);
  }
}

void AttendOneQuerySimd(const float* q, const float* keys, const float* values, int64_t stride,
                        int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                        float* probs, float* out) {
  Attend(q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

void AttendOneQueryBf16Simd(const float* q, const uint16_t* keys, const uint16_t* values,
                            int64_t stride, int64_t kv_len, int64_t head_dim,
                            const uint8_t* visible, float scale, float* probs, float* out) {
  Attend(q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

// Attend4 where two vectors divide head_dim, else each query alone (same
// bits either way).
template <class T>
HWY_INLINE void AttendFour(const float* const* q, const T* keys, const T* values, int64_t stride,
                           int64_t kv_len, int64_t head_dim, const uint8_t* const* visible,
                           float scale, float* const* probs, float* const* out) {
  if (head_dim % (2 * static_cast<int64_t>(hn::Lanes(DF()))) == 0)
    return Attend4(q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
  for (int i = 0; i < 4; ++i)
    Attend(q[i], keys, values, stride, kv_len, head_dim, visible[i], scale, probs[i], out[i]);
}

void AttendFourQueriesSimd(const float* const* q, const float* keys, const float* values,
                           int64_t stride, int64_t kv_len, int64_t head_dim,
                           const uint8_t* const* visible, float scale, float* const* probs,
                           float* const* out) {
  AttendFour(q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

void AttendFourQueriesBf16Simd(const float* const* q, const uint16_t* keys, const uint16_t* values,
                               int64_t stride, int64_t kv_len, int64_t head_dim,
                               const uint8_t* const* visible, float scale, float* const* probs,
                               float* const* out) {
  AttendFour(q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

void WeightValuesSimd(const float* probs, const float* values, int64_t stride, int64_t kv_len,
                      int64_t head_dim, const uint8_t* visible, float* out) {
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  WeightValues(probs, values, stride, kv_len, head_dim, visible, out);
}

void WeightValuesBf16Simd(const float* probs, const uint16_t* values, int64_t stride,
                          int64_t kv_len, int64_t head_dim, const uint8_t* visible, float* out) {
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  WeightValues(probs, values, stride, kv_len, head_dim, visible, out);
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::ops
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace talkie::ops {

HWY_EXPORT(AttendOneQuerySimd);
HWY_EXPORT(AttendOneQueryBf16Simd);
HWY_EXPORT(AttendFourQueriesSimd);
HWY_EXPORT(AttendFourQueriesBf16Simd);
HWY_EXPORT(WeightValuesSimd);
HWY_EXPORT(WeightValuesBf16Simd);

void AttendOneQuery(const float* q, const float* keys, const float* values, int64_t stride,
                    int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                    float* probs, float* out) {
  HWY_DYNAMIC_DISPATCH(AttendOneQuerySimd)
  (q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

void AttendOneQueryBf16(const float* q, const uint16_t* keys, const uint16_t* values,
                        int64_t stride, int64_t kv_len, int64_t head_dim, const uint8_t* visible,
                        float scale, float* probs, float* out) {
  HWY_DYNAMIC_DISPATCH(AttendOneQueryBf16Simd)
  (q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

void AttendFourQueries(const float* const* q, const float* keys, const float* values,
                       int64_t stride, int64_t kv_len, int64_t head_dim,
                       const uint8_t* const* visible, float scale, float* const* probs,
                       float* const* out) {
  HWY_DYNAMIC_DISPATCH(AttendFourQueriesSimd)
  (q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

void AttendFourQueriesBf16(const float* const* q, const uint16_t* keys, const uint16_t* values,
                           int64_t stride, int64_t kv_len, int64_t head_dim,
                           const uint8_t* const* visible, float scale, float* const* probs,
                           float* const* out) {
  HWY_DYNAMIC_DISPATCH(AttendFourQueriesBf16Simd)
  (q, keys, values, stride, kv_len, head_dim, visible, scale, probs, out);
}

void WeightValues(const float* probs, const float* values, int64_t stride, int64_t kv_len,
                  int64_t head_dim, const uint8_t* visible, float* out) {
  HWY_DYNAMIC_DISPATCH(WeightValuesSimd)(probs, values, stride, kv_len, head_dim, visible, out);
}

void WeightValuesBf16(const float* probs, const uint16_t* values, int64_t stride, int64_t kv_len,
                      int64_t head_dim, const uint8_t* visible, float* out) {
  HWY_DYNAMIC_DISPATCH(WeightValuesBf16Simd)(probs, values, stride, kv_len, head_dim, visible, out);
}

}  // namespace talkie::ops
#endif  // HWY_ONCE
