// Group-wise quantization of float rows to q8 / q4 (see quantize.h); the q4
// scale search.
#include "ops/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

#include "common/number_formats.h"

namespace talkie::ops {

namespace {

// The quantizers' scale search. Groups are held as eight vectors of four
// floats (GCC / Clang vector extensions): lane-wise IEEE arithmetic in a fixed
// order, so a group quantizes to the same bits on every target and compiler:
// no reassociation, and no multiply-add contraction (the pragmas: GCC would
// otherwise fuse them wherever the target has FMA, e.g. -march=native, ARM).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
typedef float F4 __attribute__((vector_size(16)));
constexpr int kVecs = kQuantGroup / 4;
constexpr float kMaxScale = 65504.0f;  // largest finite f16

inline F4 Splat(float v) { return F4{v, v, v, v}; }
inline float Sum(F4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// The f16 scale stored for d, clamped so that it can never overflow to inf.
inline uint16_t StoredScale(float d) { return FloatToF16(std::clamp(d, -kMaxScale, kMaxScale)); }

struct Group {
  F4 x[kVecs];    // the values, NaN -> 0 and +-inf -> +-FLT_MAX
  float lo, hi;   // smallest and largest value, and 0
  float extreme;  // the value of largest magnitude, with its sign
};

inline Group LoadGroup(const float* v) {
  Group g;
  const F4 big = Splat(std::numeric_limits<float>::max());
  F4 lo = Splat(0.0f), hi = Splat(0.0f);
  for (int k = 0; k < kVecs; ++k) {
    F4 x;
    std::memcpy(&x, v + 4 * k, sizeof x);
    x = x == x ? x : Splat(0.0f);  // NaN
    x = x > big ? big : x;
    x = x < -big ? -big : x;
    g.x[k] = x;
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
  }
  g.lo = std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3]));
  g.hi = std::max(std::max(hi[0], hi[1]), std::max(hi[2], hi[3]));
  // The value of largest magnitude; on a tie between -a and +a, the first one
  // (the plain rule's choice).
  g.extreme = -g.lo > g.hi ? g.lo : g.hi;
  if (-g.lo == g.hi && g.hi != 0.0f) {
    for (int i = 0; i < kQuantGroup; ++i) {
      const float x = g.x[i / 4][i % 4];
      if (std::fabs(x) == g.hi) {
        g.extreme = x;
        break;
      }
    }
  }
  return g;
}

// Codes round(x / d) (ties to even) clamped to [kLo, kHi] given inv = 1 / d,
// into q when given, and the sums a least-squares fit of d needs:
// sxq = sum x q, sqq = sum q^2.
template <int kLo, int kHi>
inline void Codes(const Group& g, float inv, F4* q, float& sxq, float& sqq) {
  const F4 vinv = Splat(inv), lo = Splat(kLo), hi = Splat(kHi);
  const F4 magic = Splat(12582912.0f);  // 1.5 * 2^23: (y + magic) - magic rounds y
  F4 a[2] = {}, b[2] = {};              // two chains each, for throughput
  for (int k = 0; k < kVecs; ++k) {
    F4 y = g.x[k] * vinv;
    y = y < lo ? lo : y;
    y = y > hi ? hi : y;
    const F4 c = (y + magic) - magic;
    if (q != nullptr) q[k] = c;
    a[k % 2] += g.x[k] * c;
    b[k % 2] += c * c;
  }
  sxq = Sum(a[0] + a[1]);
  sqq = Sum(b[0] + b[1]);
}

// Largest error any value of the group can get at scale d: half a step inside
// the values the codes reach, and the distance to the end value beyond them.
template <int kLo, int kHi>
inline float MaxError(const Group& g, float d) {
  const float end_lo = std::min(float(kLo) * d, float(kHi) * d);
  const float end_hi = std::max(float(kLo) * d, float(kHi) * d);
  return std::max({0.5f * std::fabs(d), end_lo - g.lo, g.hi - end_hi});
}

struct GroupResult {
  uint16_t d16 = 0;
  F4 q[kVecs] = {};
  double error = 0.0;  // sum of squared errors at the stored scale
  float sxq = 0.0f, sqq = 0.0f;
};

// Quantizes against the stored (f16-rounded, clamped) version of d.
template <int kLo, int kHi>
GroupResult QuantizeAt(const Group& g, float d) {
  typedef double D2 __attribute__((vector_size(16)));
  GroupResult r;
  r.d16 = StoredScale(d);
  const float stored = F16ToFloat(r.d16);
  Codes<kLo, kHi>(g, stored != 0.0f ? 1.0f / stored : 0.0f, r.q, r.sxq, r.sqq);
  const D2 dd = {stored, stored};
  D2 e = {};
  for (int k = 0; k < kVecs; ++k) {
    const D2 x0 = {g.x[k][0], g.x[k][1]}, x1 = {g.x[k][2], g.x[k][3]};
    const D2 q0 = {r.q[k][0], r.q[k][1]}, q1 = {r.q[k][2], r.q[k][3]};
    const D2 r0 = x0 - q0 * dd, r1 = x1 - q1 * dd;
    e += r0 * r0;
    e += r1 * r1;
  }
  r.error = e[0] + e[1];
  return r;
}

// Scale search for one group with codes in [kLo, kHi].
//
// `base` is the plain rule's scale; its result is always a candidate, so the
// search never does worse than it in squared error. Each candidate inverse
// scale inv_factors[k] / extreme gives codes, and those codes the least-squares
// scale sum(x q) / sum(q^2), whose error is sum(x^2) - sum(x q)^2 / sum(q^2).
// The best of these fits among those whose largest error stays within
// `max_error` is then refined: two rounds of re-rounding the codes against the
// stored scale and refitting. The result with the smallest squared error at
// its stored scale wins.
template <int kLo, int kHi, size_t kN>
GroupResult SearchGroup(const Group& g, float base, const float (&inv_factors)[kN],
                        float max_error) {
  GroupResult best = QuantizeAt<kLo, kHi>(g, base);
  const float amax = std::fabs(g.extreme);
  // Within these bounds the float sums stay far from overflow and the inverse
  // scales finite; real weights never come close, and outside them the plain
  // rule (with its clamped scale) is kept.
  if (!(amax >= 0x1p-26f && amax <= kMaxScale * 16.0f) || best.error == 0.0) return best;
  // The fits keep a little margin to max_error for the f16 rounding.
  const float fit_max_error = max_error * (1.0f - 0x1p-9f);
  const float inv_extreme = 1.0f / g.extreme;
  // Largest sum(x q)^2 / sum(q^2) (smallest fit error), compared by products.
  float fit_sxq = 0.0f, fit_sqq = 1.0f, fit_d = 0.0f;
  for (size_t k = 0; k < kN; ++k) {
    float sxq, sqq;
    Codes<kLo, kHi>(g, inv_factors[k] * inv_extreme, nullptr, sxq, sqq);
    if (!(sqq > 0.0f) || !(sxq * sxq * fit_sqq > fit_sxq * fit_sxq * sqq)) continue;
    const float d = sxq / sqq;
    if (MaxError<kLo, kHi>(g, d) > fit_max_error) continue;
    fit_sxq = sxq;
    fit_sqq = sqq;
    fit_d = d;
  }
  for (int round = 0; round < 2 && fit_d != 0.0f; ++round) {
    const GroupResult r = QuantizeAt<kLo, kHi>(g, fit_d);
    const float stored = F16ToFloat(r.d16);
    if (stored == 0.0f || MaxError<kLo, kHi>(g, stored) > max_error) break;
    if (r.error < best.error) best = r;
    // Unchanged sums refit to the same scale: nothing new to try.
    if (!(r.sqq > 0.0f) || (r.sxq == fit_sxq && r.sqq == fit_sqq)) break;
    fit_sxq = r.sxq;
    fit_sqq = r.sqq;
    fit_d = r.sxq / r.sqq;
  }
  return best;
}

// q4 candidates (inverse scales times the extreme): the extreme mapped to
// code -s for s from 6.8 to 9.1 (a finer step, or the extreme clamped at -8
// when s > 8; past 9.14 the clamp would cost more than the plain rule's
// largest error allows), and to code +6.2 (a coarser step that reaches past
// the extreme on the other side, for groups whose two tails are about equal).
// On heavy-tailed random groups these ten get 99.7% of the error reduction
// that a 300-point grid gets.
constexpr float kQ4InvFactors[] = {-6.8f, -7.1f, -7.4f, -7.7f, -8.0f,
                                   -8.3f, -8.6f, -8.9f, -9.1f, 6.2f};

}  // namespace

void QuantizeRowQ8(const float* x, int64_t n, int8_t* q, uint16_t* scales) {
  // The plain rule, kept: a scale search as for q4 lowers the squared error by
  // under 1% while every value stays within half a step (max|x| / 254) of its
  // original, and by ~3% (mean KL vs bf16 on the bundled model 0.00037 instead
  // of 0.00040) only by giving that bound up.
  for (int64_t g = 0; g < n / kQuantGroup; ++g) {
    const Group group = LoadGroup(x + g * kQuantGroup);
    const uint16_t d16 = StoredScale(std::fabs(group.extreme) / 127.0f);
    const float d = F16ToFloat(d16);  // quantize against the scale actually stored
    F4 codes[kVecs];
    float sxq, sqq;
    Codes<-127, 127>(group, d > 0.0f ? 1.0f / d : 0.0f, codes, sxq, sqq);
    scales[g] = d16;
    for (int64_t i = 0; i < kQuantGroup; ++i)
      q[g * kQuantGroup + i] = static_cast<int8_t>(codes[i / 4][i % 4]);
  }
}

void QuantizeRowQ4(const float* x, int64_t n, uint8_t* q, uint16_t* scales) {
  for (int64_t g = 0; g < n / kQuantGroup; ++g) {
    const Group group = LoadGroup(x + g * kQuantGroup);
    const GroupResult r = SearchGroup<-8, 7>(group, group.extreme / -8.0f, kQ4InvFactors,
                                             std::fabs(group.extreme) / 8.0f);
    scales[g] = r.d16;
    auto code = [&](int64_t i) {
      return static_cast<uint8_t>(static_cast<int>(r.q[i / 4][i % 4]) + 8);
    };
    for (int64_t i = 0; i < 16; ++i)
      q[g * 16 + i] = static_cast<uint8_t>(code(i) | (code(i + 16) << 4));
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

}  // namespace talkie::ops
