// One layer's decode attention at long context, single-threaded: 16 query
// heads of 128 over a cache laid out as the model's ([position, 2048],
// float32 for the exact policy, bf16 for the fast one). Reports the K/V bytes
// streamed per second (bytes_per_second): at long context decode attention
// should run at memory speed, like the weights.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "common/number_formats.h"
#include "ops/attention.h"
#include "ops/parallel.h"

namespace {

using namespace talkie;

constexpr int64_t kHeads = 16, kHeadDim = 128, kWidth = kHeads * kHeadDim;

template <class T>
void BM_DecodeAttention(benchmark::State& state) {
  const int64_t kv_len = state.range(0);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<T> keys(static_cast<size_t>(kv_len * kWidth)), values(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if constexpr (sizeof(T) == 4) {
      keys[i] = normal(rng);
      values[i] = normal(rng);
    } else {
      keys[i] = FloatToBf16(normal(rng));
      values[i] = FloatToBf16(normal(rng));
    }
  }
  std::vector<float> q(kWidth), out(kWidth), probs(static_cast<size_t>(kv_len));
  for (float& x : q) x = normal(rng);
  const std::vector<uint8_t> visible(static_cast<size_t>(kv_len), 1);
  for (auto _ : state) {
    for (int64_t h = 0; h < kHeads; ++h) {
      const int64_t col = h * kHeadDim;
      if constexpr (sizeof(T) == 4)
        ops::AttendOneQuery(q.data() + col, keys.data() + col, values.data() + col, kWidth, kv_len,
                            kHeadDim, visible.data(), 0.088f, probs.data(), out.data() + col);
      else
        ops::AttendOneQueryBf16(q.data() + col, keys.data() + col, values.data() + col, kWidth,
                                kv_len, kHeadDim, visible.data(), 0.088f, probs.data(),
                                out.data() + col);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * kv_len * kWidth *
                          static_cast<int64_t>(sizeof(T)));
}
BENCHMARK(BM_DecodeAttention<float>)->Arg(128)->Arg(512)->Arg(2048)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeAttention<uint16_t>)
    ->Arg(128)
    ->Arg(512)
    ->Arg(2048)
    ->Unit(benchmark::kMicrosecond);

// A prefill chunk's attention: q_len new rows after `past` cached ones, all
// 16 heads, one thread (AttendCausal, the model's own task loop).
template <ops::KvType kType>
void BM_PrefillAttention(benchmark::State& state) {
  const int64_t q_len = state.range(0), past = state.range(1), kv_len = past + q_len;
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  std::vector<float> keys(static_cast<size_t>(kv_len * kWidth)), values(keys.size());
  std::vector<uint16_t> keys16(keys.size()), values16(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = normal(rng), values[i] = normal(rng);
    keys16[i] = FloatToBf16(keys[i]), values16[i] = FloatToBf16(values[i]);
  }
  std::vector<float> q(static_cast<size_t>(q_len * kWidth)), out(q.size());
  for (float& x : q) x = normal(rng);
  const std::vector<uint8_t> mask(static_cast<size_t>(kv_len), 1);
  ops::AttentionSequence s;
  s.kv.type = kType;
  s.kv.keys = kType == ops::KvType::kF32 ? static_cast<const void*>(keys.data()) : keys16.data();
  s.kv.values =
      kType == ops::KvType::kF32 ? static_cast<const void*>(values.data()) : values16.data();
  s.kv.stride = kWidth;
  s.q_len = q_len, s.past = past, s.kv_len = kv_len, s.mask = mask.data();
  ops::AttentionScratch scratch;
  const ops::ScopedNumThreads one(1);
  for (auto _ : state) {
    ops::AttendCausal(q.data(), kHeads, kHeadDim, {s}, scratch, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations() * q_len),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PrefillAttention<ops::KvType::kF32>)
    ->Args({128, 0})
    ->Args({128, 1024})
    ->Args({128, 1920})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PrefillAttention<ops::KvType::kBF16>)
    ->Args({128, 0})
    ->Args({128, 1024})
    ->Args({128, 1920})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
