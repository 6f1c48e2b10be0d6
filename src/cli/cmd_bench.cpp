// `talkie bench`: prompt-processing and generation speed of a model, reported
// next to this machine's limits measured in the same run (memory read
// bandwidth, FMA peak), so the figures are ratios, not just numbers.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/validators.h"
#include "talkie/engine.h"
#include "talkie/error.h"
#include "talkie/model.h"
#include "talkie/roofline.h"

namespace talkie::cli {
namespace {

struct BenchArgs {
  std::string model;
  int64_t prompt = 512;
  int64_t gen = 128;
  int threads = 0;
  int reps = 3;
  std::string policy = "exact";
  bool json = false;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Stats {
  double min = 0, median = 0, max = 0;
};
Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v.back()};
}

void RunBench(const BenchArgs& a) {
  Check(a.prompt >= 1 && a.gen >= 1 && a.reps >= 1, "--prompt, --gen and --reps must be >= 1");
  const Engine engine = MakeEngine(a.policy, a.threads);
  const int threads = engine.threads();
  // The context check needs the config: a first, cheap load (the weights stay
  // unread in the mapped file) before minutes of measuring.
  const std::string path = ResolveModelPath(a.model);
  {
    const int64_t context = Model::Load(path).config().max_position_embeddings;
    Check(a.prompt + a.gen <= context,
          "--prompt " + std::to_string(a.prompt) + " + --gen " + std::to_string(a.gen) +
              " exceeds the model's context of " + std::to_string(context) + " tokens");
  }

  // Bandwidth first, so its 1 GB buffer is gone before the weights arrive
  // (peak RSS then measures the model); measured again after the runs, and
  // the better of the two is the roofline (this shared machine varies).
  std::fprintf(stderr, "measuring memory bandwidth (%d threads)...\n", threads);
  const double read_gb_s_before = MeasureReadBandwidth(threads);

  const double t_load = Now();
  const Model m = LoadModel(path, engine);
  const double load_s = Now() - t_load;
  const ModelConfig& c = m.config();

  // Every matrix is streamed once per decoded token (the embedding row is not).
  const Model::WeightFootprint footprint = m.weight_footprint();
  const int64_t weights_bytes = footprint.matmul_bytes, matmul_params = footprint.matmul_parameters;

  std::fprintf(stderr, "measuring compute peaks (%d threads)...\n", threads);
  const double fma_gflop_s = MeasureFmaPeak(threads);
  // Prefill is compared with the peak of the instruction its kernel uses:
  // float FMA (exact policy), VDPBF16PS / VPDPBUSD (fast policy).
  std::string dot_kind;
  const double dot_peak = MeasureDotPeak(m, threads, &dot_kind);
  const double compute_peak = dot_peak > 0 ? dot_peak : fma_gflop_s;
  const std::string compute_peak_kind = dot_peak > 0 ? dot_kind : "f32 FMA";
  const bool fast = engine.options().policy == Policy::kFast;
  const std::string simd_target = Kernels(engine).exact, fast_kernel = m.fast_kernel_path();

  std::mt19937 rng(1);
  std::vector<int32_t> prompt(static_cast<size_t>(a.prompt));
  for (auto& id : prompt) id = static_cast<int32_t>(rng() % c.vocab_size);
  // One forward of `ids` through `cache`; returns the argmax of the last logits.
  auto step = [&](KvCache& cache, std::vector<int32_t> ids) {
    ForwardRequest request;
    const auto n = static_cast<int64_t>(ids.size());
    request.input_ids = Tensor<int32_t>({1, n}, std::move(ids));
    request.logits = LogitsFor::kLast;
    const ForwardResult out = m.Forward(request, &cache);
    const float* row = out.logits.data();
    return static_cast<int32_t>(std::max_element(row, row + c.vocab_size) - row);
  };
  // Greedy decoding of `gen` tokens through `cache`; returns tokens/s.
  auto decode = [&](KvCache& cache, int32_t next) {
    const double t1 = Now();
    for (int64_t i = 0; i < a.gen; ++i) next = step(cache, {next});
    return static_cast<double>(a.gen) / (Now() - t1);
  };
  // Generation is timed twice: from an empty cache (what llama-bench's tg
  // measures: weights dominate) and right after the prompt (the K/V of the
  // prompt are read for every token too).
  std::vector<double> pp, tg, tg_after, ttft;
  for (int r = 0; r < a.reps; ++r) {
    std::fprintf(stderr, "rep %d/%d\n", r + 1, a.reps);
    KvCache cache = m.NewCache();
    const double t0 = Now();
    const int32_t next = step(cache, prompt);
    const double prefill = Now() - t0;
    ttft.push_back(prefill);
    pp.push_back(static_cast<double>(a.prompt) / prefill);
    tg_after.push_back(decode(cache, next));
    KvCache empty = m.NewCache();
    tg.push_back(decode(empty, prompt[0]));
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double read_gb_s_after = MeasureReadBandwidth(threads);
  const double read_gb_s = std::max(read_gb_s_before, read_gb_s_after);
  const Stats p = Summarize(pp), g = Summarize(tg), f = Summarize(ttft), ga = Summarize(tg_after);
  const double decode_gb_s = static_cast<double>(weights_bytes) * g.median / 1e9;
  // Matmul flops only (attention adds a little more at long prompts).
  const double prefill_gflop_s = 2.0 * static_cast<double>(matmul_params) * p.median / 1e9;
  nlohmann::json j = {{"model", m.info().path},
                      {"threads", threads},
                      {"policy", a.policy},
                      {"simd_target", simd_target},
                      {"fast_kernel", fast_kernel},
                      {"prompt_tokens", a.prompt},
                      {"gen_tokens", a.gen},
                      {"reps", a.reps},
                      {"load_s", load_s},
                      {"read_gb_s", read_gb_s},
                      {"read_gb_s_before", read_gb_s_before},
                      {"read_gb_s_after", read_gb_s_after},
                      {"fma_gflop_s", fma_gflop_s},
                      {"compute_peak_gop_s", compute_peak},
                      {"compute_peak_kind", compute_peak_kind},
                      {"weights_bytes", weights_bytes},
                      {"pp_tok_s_min", p.min},
                      {"pp_tok_s_median", p.median},
                      {"pp_tok_s_max", p.max},
                      {"tg_tok_s_min", g.min},
                      {"tg_tok_s_median", g.median},
                      {"tg_tok_s_max", g.max},
                      {"tg_after_prompt_tok_s_median", ga.median},
                      {"ttft_s_median", f.median},
                      {"decode_gb_s", decode_gb_s},
                      {"decode_fraction_of_bandwidth", decode_gb_s / read_gb_s},
                      {"prefill_gflop_s", prefill_gflop_s},
                      {"prefill_fraction_of_fma_peak", prefill_gflop_s / fma_gflop_s},
                      {"prefill_fraction_of_compute_peak", prefill_gflop_s / compute_peak},
                      {"peak_rss_mb", static_cast<double>(usage.ru_maxrss) / 1024.0}};
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf("model %s | %d threads | policy %s | SIMD %s | fast kernel %s\n",
              m.info().path.c_str(), threads, a.policy.c_str(), simd_target.c_str(),
              fast ? fast_kernel.c_str() : "-");
  std::printf(
      "machine: read %.1f GB/s (%.1f before, %.1f after the runs), f32 FMA peak %.0f GFLOP/s",
      read_gb_s, read_gb_s_before, read_gb_s_after, fma_gflop_s);
  if (dot_peak > 0) std::printf(", %s peak %.0f GOP/s", compute_peak_kind.c_str(), dot_peak);
  std::printf("\n");
  std::printf(
      "prompt %lld: %.1f tok/s (min %.1f, max %.1f) = %.0f GOP/s, %.0f%% of the %s peak; TTFT "
      "%.3f s\n",
      static_cast<long long>(a.prompt), p.median, p.min, p.max, prefill_gflop_s,
      100.0 * prefill_gflop_s / compute_peak, compute_peak_kind.c_str(), f.median);
  std::printf(
      "generate %lld: %.2f tok/s (min %.2f, max %.2f) = %.1f GB/s of weights, %.0f%% of read "
      "bandwidth\n",
      static_cast<long long>(a.gen), g.median, g.min, g.max, decode_gb_s,
      100.0 * decode_gb_s / read_gb_s);
  std::printf("generate %lld after the %lld-token prompt: %.2f tok/s (min %.2f, max %.2f)\n",
              static_cast<long long>(a.gen), static_cast<long long>(a.prompt), ga.median, ga.min,
              ga.max);
  std::printf("load %.2f s, peak RSS %.0f MB\n", load_s,
              static_cast<double>(usage.ru_maxrss) / 1024.0);
}

}  // namespace

void RegisterBenchCommand(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Prompt / generation speed against this machine's measured limits");
  cmd->add_option("-m,--model", a->model,
                  "model directory or checkpoint file (default: the bundled model)");
  cmd->add_option("--prompt", a->prompt, "prompt tokens")
      ->check(IntegerIn(1))
      ->capture_default_str();
  cmd->add_option("--gen", a->gen, "generated tokens")->check(IntegerIn(1))->capture_default_str();
  AddThreadsOption(cmd, &a->threads);
  cmd->add_option("--reps", a->reps, "repetitions")->capture_default_str();
  AddPolicyOption(cmd, &a->policy);
  cmd->add_flag("--json", a->json, "one JSON object with every figure");
  cmd->callback([a] { RunBench(*a); });
}

}  // namespace talkie::cli
