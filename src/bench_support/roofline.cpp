// Bandwidth and FMA-peak probes (see roofline.h).
#include "bench_support/roofline.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench_support/roofline.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string_view>

#include <omp.h>

#include "bench_support/dot_peak.h"
#include "ops/cpu_features.h"
#include "ops/matmul_lowp.h"

HWY_BEFORE_NAMESPACE();
namespace talkie::bench_support {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Sums float lanes of [p, p + n); returns the sum so the reads are kept.
float SumBuffer(const float* p, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  auto a = hn::Zero(df), b = hn::Zero(df), c = hn::Zero(df), d = hn::Zero(df);
  int64_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    a = hn::Add(a, hn::LoadU(df, p + i));
    b = hn::Add(b, hn::LoadU(df, p + i + lanes));
    c = hn::Add(c, hn::LoadU(df, p + i + 2 * lanes));
    d = hn::Add(d, hn::LoadU(df, p + i + 3 * lanes));
  }
  return hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(a, b), hn::Add(c, d))));
}

// Runs `iterations` x 10 independent FMA chains; returns flops done.
double FmaLoop(int64_t iterations, float* sink) {
  const hn::ScalableTag<float> df;
  auto a0 = hn::Set(df, 1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
       a8 = a0, a9 = a0;
  const auto m = hn::Set(df, 0.999999f), c = hn::Set(df, 1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
    a0 = hn::MulAdd(a0, m, c), a1 = hn::MulAdd(a1, m, c), a2 = hn::MulAdd(a2, m, c),
    a3 = hn::MulAdd(a3, m, c);
    a4 = hn::MulAdd(a4, m, c), a5 = hn::MulAdd(a5, m, c), a6 = hn::MulAdd(a6, m, c),
    a7 = hn::MulAdd(a7, m, c);
    a8 = hn::MulAdd(a8, m, c), a9 = hn::MulAdd(a9, m, c);
  }
  const auto sum = hn::Add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)),
                           hn::Add(hn::Add(hn::Add(a4, a5), hn::Add(a6, a7)), hn::Add(a8, a9)));
  *sink = hn::GetLane(sum);
  return static_cast<double>(iterations) * 10.0 * 2.0 * static_cast<double>(hn::Lanes(df));
}

}  // namespace HWY_NAMESPACE
}  // namespace talkie::bench_support
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace talkie::bench_support {

HWY_EXPORT(SumBuffer);
HWY_EXPORT(FmaLoop);

namespace {
double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

double MeasureReadBandwidth(int threads, int64_t bytes, int reps) {
  const int64_t n = bytes / 4;
  std::unique_ptr<float[]> buffer(new float[static_cast<size_t>(n)]);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) buffer[i] = 1.0f;  // first touch by the reading thread
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
      total += HWY_DYNAMIC_DISPATCH(SumBuffer)(buffer.get() + begin, end - begin);
    }
    sink = sink + total;
    best = std::max(best, static_cast<double>(bytes) / (Now() - t0) / 1e9);
  }
  return best;
}

double MeasureLowPrecisionPeak(ops::WeightType type, int threads) {
  const bool bf16 = type == ops::WeightType::kBF16;
  // Every type whose fast kernel is an int8 one (q8, q4, the GGUF block
  // types that have one) runs on the int8 dot instruction.
  if (!bf16 && std::string_view(ops::LowPrecisionPath(type)) == "exact") return 0.0;
#if defined(__x86_64__)
  if (bf16 ? !ops::Cpu().avx512_bf16 : !ops::Cpu().avx512_vnni) return 0.0;
  const int64_t iterations = 20'000'000;
  double ops = 0.0;
  float sinks[256] = {};
  const double t0 = Now();
#pragma omp parallel num_threads(threads) reduction(+ : ops)
  ops += DotLoopAvx512(bf16, iterations, &sinks[omp_get_thread_num() % 256]);
  return ops / (Now() - t0) / 1e9;
#else
  return 0.0;  // the peak loop is written for AVX-512 only
#endif
}

double MeasureFmaPeak(int threads) {
  const int64_t iterations = 20'000'000;
  double flops = 0.0;
  float sinks[256] = {};
  const double t0 = Now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
  flops += HWY_DYNAMIC_DISPATCH(FmaLoop)(iterations, &sinks[omp_get_thread_num() % 256]);
  return flops / (Now() - t0) / 1e9;
}

}  // namespace talkie::bench_support
#endif  // HWY_ONCE
