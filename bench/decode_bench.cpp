// Decode cost per token against context length (issue 3, guarantee 5): with
// the KV cache a decode step costs O(context), so the time per token grows
// linearly (weights: a constant; attention: proportional to the context).
// Synthetic model: hidden 512, 4 layers, 4 heads x 128, vocab 4096, bf16.
// The cache is filled with random keys/values (their values do not change the
// cost), then single-token steps are timed, rolling the cache back each time.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "model/forward.h"
#include "model/synthetic.h"

namespace {

using namespace talkie;

const model::Model& BenchModel() {
  static std::unique_ptr<model::Model> m = [] {
    model::ModelConfig c;
    c.vocab_size = 4096;
    c.n_embd = 512;
    c.n_layer = 4;
    c.n_head = 4;
    c.head_dim = 128;
    c.intermediate_size = model::TalkieMlpWidth(512);
    c.max_position_embeddings = 2048;
    const std::string dir =
        (std::filesystem::temp_directory_path() / "talkie_decode_bench_model").string();
    model::WriteSyntheticModel(dir, c, io::DType::kBF16);
    return model::Model::Load(dir);
  }();
  return *m;
}

void BM_DecodeStep(benchmark::State& state) {
  const model::Model& m = BenchModel();
  const int64_t context = state.range(0);
  model::KvCache cache(m.config(), 1);
  cache.Grow(context - 1);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  for (int64_t l = 0; l < m.config().n_layer; ++l) {
    float* k = cache.keys(l, 0);
    float* v = cache.values(l, 0);
    for (int64_t i = 0; i < (context - 1) * m.config().n_embd; ++i) {
      k[i] = normal(rng);
      v[i] = normal(rng);
    }
  }
  model::ForwardInput in;
  in.q_len = 1;
  in.ids = {42};
  in.logits = model::LogitsFor::kLast;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model::Forward(m, cache, in).logits.data());
    cache.Truncate(context - 1);
  }
  state.counters["context"] = static_cast<double>(context);
  state.counters["tok/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeStep)
    ->Arg(128)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
