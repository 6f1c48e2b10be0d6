// Row-wise op speed at talkie-1b shapes (n = 2048 = n_embd, n = 5504 = the
// MLP width), one row (decode) and 512 rows (a prompt): RmsNormRows and
// SiluMul, the SIMD kernels against their plain references. Reported as
// elements/s (items_per_second) and GB/s of float32 traffic (RmsNorm: x read
// twice, y written once; SiluMul: gate and up read, out written).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "ops/activation.h"
#include "ops/matmul.h"
#include "ops/norm.h"

namespace {

using namespace talkie;

std::vector<float> Random(size_t size, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(size);
  for (auto& x : v) x = normal(rng) * scale;
  return v;
}

void Report(benchmark::State& state, double elements, double bytes_per_element) {
  state.SetItemsProcessed(static_cast<int64_t>(elements) * state.iterations());
  state.counters["GB/s"] = benchmark::Counter(elements * bytes_per_element * state.iterations(),
                                              benchmark::Counter::kIsRate);
  state.SetLabel(ops::MatMulTarget());
}

void RunNorm(benchmark::State& state, void (*fn)(const float*, int64_t, int64_t, float*)) {
  const int64_t rows = state.range(0), n = state.range(1);
  const std::vector<float> x = Random(static_cast<size_t>(rows * n), 1.0f, 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    fn(x.data(), rows, n, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  Report(state, static_cast<double>(rows * n), 3 * sizeof(float));
}

void RunSilu(benchmark::State& state, void (*fn)(const float*, const float*, int64_t, float*)) {
  const int64_t rows = state.range(0), n = state.range(1);
  const std::vector<float> gate = Random(static_cast<size_t>(rows * n), 3.0f, 2);
  const std::vector<float> up = Random(gate.size(), 1.0f, 3);
  std::vector<float> out(gate.size());
  for (auto _ : state) {
    fn(gate.data(), up.data(), rows * n, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  Report(state, static_cast<double>(rows * n), 3 * sizeof(float));
}

void BM_RmsNormReference(benchmark::State& state) { RunNorm(state, ops::RmsNormRowsReference); }
void BM_RmsNormSimd(benchmark::State& state) { RunNorm(state, ops::RmsNormRows); }
void BM_SiluMulReference(benchmark::State& state) { RunSilu(state, ops::SiluMulReference); }
void BM_SiluMulSimd(benchmark::State& state) { RunSilu(state, ops::SiluMul); }

// {rows, n}
void Shapes(benchmark::internal::Benchmark* b) {
  for (const int64_t rows : {1, 512})
    for (const int64_t n : {2048, 5504}) b->Args({rows, n});
  b->ArgNames({"rows", "n"})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_RmsNormReference)->Apply(Shapes);
BENCHMARK(BM_RmsNormSimd)->Apply(Shapes);
BENCHMARK(BM_SiluMulReference)->Apply(Shapes);
BENCHMARK(BM_SiluMulSimd)->Apply(Shapes);

}  // namespace

BENCHMARK_MAIN();
