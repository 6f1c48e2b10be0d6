// Matmul kernel speed at talkie-1b shapes: decode (M = 1, bandwidth-bound;
// reported as GB/s of weights) and prefill tiles (M = 64, compute-bound;
// reported as GFLOP/s), for bf16, q8 and q4 weights under the exact and the
// fast policy (matmul_lowp.h), and the plain reference.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "common/number_formats.h"
#include "ops/matmul.h"
#include "ops/matmul_lowp.h"
#include "ops/quantize.h"

namespace {

using namespace talkie;

// A random n x k matrix as bf16, and its q8 / q4 quantizations.
struct Weights {
  std::vector<uint16_t> data;
  std::vector<int8_t> q8;
  std::vector<uint8_t> q4;
  std::vector<uint16_t> s8, s4;
  std::vector<uint8_t> packed8, packed4;
  ops::WeightMatrix matrix, q8_matrix, q4_matrix;
  Weights(int64_t n, int64_t k)
      : data(static_cast<size_t>(n * k)), q8(n * k), q4(n * k / 2), s8(n * k / 32), s4(n * k / 32) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = 0; r < n; ++r) {
      for (auto& v : row) v = normal(rng) * 0.02f;
      for (int64_t i = 0; i < k; ++i) data[r * k + i] = FloatToBf16(row[i]);
      ops::QuantizeRowQ8(row.data(), k, &q8[r * k], &s8[r * k / 32]);
      ops::QuantizeRowQ4(row.data(), k, &q4[r * k / 2], &s4[r * k / 32]);
    }
    matrix = {ops::WeightType::kBF16, data.data(), n, k};
    q8_matrix = {ops::WeightType::kQ8, q8.data(), n, k, 1.0f, false, s8.data()};
    q4_matrix = {ops::WeightType::kQ4, q4.data(), n, k, 1.0f, false, s4.data()};
    packed8.resize(static_cast<size_t>(ops::PackedBytes(q8_matrix)));
    packed4.resize(static_cast<size_t>(ops::PackedBytes(q4_matrix)));
    ops::PackForLowPrecision(q8_matrix, packed8.data());
    ops::PackForLowPrecision(q4_matrix, packed4.data());
  }
};

void Run(benchmark::State& state,
         void (*fn)(const float*, int64_t, const ops::WeightMatrix&, float*),
         ops::WeightType type = ops::WeightType::kBF16, bool fast = false) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  static Weights* w = nullptr;
  if (!w || w->matrix.rows != n || w->matrix.cols != k) {
    delete w;
    w = new Weights(n, k);
  }
  std::vector<float> x(static_cast<size_t>(m * k), 0.5f), y(static_cast<size_t>(m * n));
  ops::WeightMatrix matrix = type == ops::WeightType::kQ8   ? w->q8_matrix
                             : type == ops::WeightType::kQ4 ? w->q4_matrix
                                                            : w->matrix;
  if (fast) {
    matrix.precision = ops::Precision::kFast;
    if (type == ops::WeightType::kQ8) matrix.packed = w->packed8.data();
    if (type == ops::WeightType::kQ4) matrix.packed = w->packed4.data();
  }
  for (auto _ : state) {
    fn(x.data(), m, matrix, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(ops::WeightBytes(matrix)) * state.iterations(),
                         benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}

void BM_MatMulSimd(benchmark::State& state) { Run(state, ops::MatMul); }
void BM_MatMulReference(benchmark::State& state) { Run(state, ops::MatMulReference); }
void BM_MatMulQ8(benchmark::State& state) { Run(state, ops::MatMul, ops::WeightType::kQ8); }
void BM_MatMulQ4(benchmark::State& state) { Run(state, ops::MatMul, ops::WeightType::kQ4); }
void BM_MatMulSimdPolicyBf16(benchmark::State& state) {
  Run(state, ops::MatMul, ops::WeightType::kBF16, true);
}
void BM_MatMulSimdPolicyQ8(benchmark::State& state) {
  Run(state, ops::MatMul, ops::WeightType::kQ8, true);
}
void BM_MatMulSimdPolicyQ4(benchmark::State& state) {
  Run(state, ops::MatMul, ops::WeightType::kQ4, true);
}
// The 256-bit int8 paths other CPUs take (skipped where this one lacks them).
void FastPolicyQ8OnPath(benchmark::State& state, const char* path) {
  try {
    ops::ForceLowPrecisionPath(path);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  Run(state, ops::MatMul, ops::WeightType::kQ8, true);
  ops::ForceLowPrecisionPath("");
}
void BM_MatMulSimdPolicyQ8AvxVnni(benchmark::State& state) {
  FastPolicyQ8OnPath(state, "AVX-VNNI");
}
void BM_MatMulSimdPolicyQ8Avx2(benchmark::State& state) { FastPolicyQ8OnPath(state, "AVX2"); }

BENCHMARK(BM_MatMulSimd)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulQ8)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulQ4)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulSimdPolicyBf16)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulSimdPolicyQ8)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulSimdPolicyQ4)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulSimdPolicyQ8AvxVnni)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulSimdPolicyQ8Avx2)
    ->Args({1, 5504, 2048})
    ->Args({64, 5504, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulReference)->Args({1, 5504, 2048})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
