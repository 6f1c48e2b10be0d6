// Matmul kernel speed at talkie-1b shapes: decode (M = 1, bandwidth-bound;
// reported as GB/s of weights) and prefill tiles (M = 64, compute-bound;
// reported as GFLOP/s), for the SIMD kernel and the plain reference.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "io/tensor.h"
#include "ops/matmul.h"

namespace {

using namespace talkie;

struct Weights {
  std::vector<uint16_t> data;
  ops::WeightMatrix matrix;
  Weights(int64_t n, int64_t k) : data(static_cast<size_t>(n * k)) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    for (auto& v : data) v = io::FloatToBf16(normal(rng) * 0.02f);
    matrix = {ops::WeightType::kBF16, data.data(), n, k};
  }
};

void Run(benchmark::State& state, void (*fn)(const float*, int64_t, const ops::WeightMatrix&, float*)) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  static Weights* w = nullptr;
  if (!w || w->matrix.rows != n || w->matrix.cols != k) {
    delete w;
    w = new Weights(n, k);
  }
  std::vector<float> x(static_cast<size_t>(m * k), 0.5f), y(static_cast<size_t>(m * n));
  for (auto _ : state) {
    fn(x.data(), m, w->matrix, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(n * k * 2) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

void BM_MatMulFast(benchmark::State& state) { Run(state, ops::MatMul); }
void BM_MatMulReference(benchmark::State& state) { Run(state, ops::MatMulReference); }

BENCHMARK(BM_MatMulFast)->Args({1, 5504, 2048})->Args({64, 5504, 2048})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulReference)->Args({1, 5504, 2048})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
