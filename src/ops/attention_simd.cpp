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

// out[d] += p_j * v_j[d] over visible keys in key order (out starts at 0):
// the last phase of Attend, also run alone on a patched hook_pattern.
template <class T>
HWY_INLINE void WeightValues(const float* probs, const T* values, int64_t stride, int64_t kv_len,
                             int64_t head_dim, const uint8_t* visible, float* out) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t full = head_dim / lanes * lanes;
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) continue;
    const T* v = values + j * stride;
    const auto p = hn::Set(df, probs[j]);
    for (int64_t d = 0; d < full; d += lanes)
      hn::StoreU(hn::MulAdd(p, LoadKv(df, v + d), hn::LoadU(df, out + d)), df, out + d);
    for (int64_t d = full; d < head_dim; ++d) out[d] = std::fma(probs[j], KvToFloat(v[d]), out[d]);
  }
}

template <class T>
HWY_INLINE void Attend(const float* q, const T* keys, const T* values, int64_t stride,
                       int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                       float* probs, float* out) {
  const DF df;
  float max_score = -std::numeric_limits<float>::infinity();
  bool any = false;
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) {
      probs[j] = 0.0f;
      continue;
    }
    probs[j] = Dot(df, q, keys + j * stride, head_dim) * scale;
    if (!any || probs[j] > max_score) max_score = probs[j];
    any = true;
  }
  for (int64_t d = 0; d < head_dim; ++d) out[d] = 0.0f;
  if (!any) return;
  float sum = 0.0f;
  for (int64_t j = 0; j < kv_len; ++j) {
    if (!visible[j]) continue;
    probs[j] = std::exp(probs[j] - max_score);
    sum += probs[j];
  }
  for (int64_t j = 0; j < kv_len; ++j)
    if (visible[j]) probs[j] /= sum;
  WeightValues(probs, values, stride, kv_len, head_dim, visible, out);
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
