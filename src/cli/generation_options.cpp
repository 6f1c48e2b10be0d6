// Shared generation options (see generation_options.h).
#include "cli/generation_options.h"

#include <cstdio>
#include <cstdlib>
#include <random>

#include "cli/args.h"
#include "cli/default_threads.h"
#include "cli/validators.h"
#include "talkie/error.h"

namespace talkie::cli {

void AddGenerationOptions(CLI::App* cmd, GenerationArgs* a) {
  cmd->add_option("-m,--model", a->model,
                  "model directory or checkpoint file (default: the bundled model)");
  cmd->add_option("--tokenizer", a->tokenizer,
                  "vocab.txt / tokenizer.json / .gguf / directory (default: the model's)");
  cmd->add_option("-n,--max-new-tokens", a->max_new_tokens, "tokens to generate at most")
      ->check(IntegerIn(0))
      ->capture_default_str();
  cmd->add_option("-t,--temperature", a->temperature, "sampling temperature; 0 = greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "keep the k most likely tokens; 0 = off")
      ->check(IntegerIn(std::numeric_limits<int64_t>::min()))
      ->capture_default_str();
  cmd->add_option("--top-p", a->top_p, "nucleus sampling mass in (0, 1]; 1 = off")
      ->capture_default_str();
  cmd->add_option("--min-p", a->min_p, "drop tokens below min-p x top probability; 0 = off")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", a->repeat_penalty,
                  "repetition penalty (Transformers); 1 = off")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed,
                  "random seed in [0, 2^53] (default: random, printed on stderr)")
      ->check(SeedValue());
  // One value per --stop, so `--stop end "prompt"` leaves the prompt alone.
  cmd->add_option("--stop", a->stop, "stop string (repeatable); the text ends just before it")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  AddThreadsOption(cmd, &a->threads);
  AddPolicyOption(cmd, &a->policy);
  cmd->add_flag("-q,--quiet", a->quiet, "no speed report on stderr");
  cmd->add_flag("--ignore-eos", a->ignore_eos,
                "never sample the end tokens (<|endoftext|>, <|end|>, chat markers): generate "
                "until --max-new-tokens or the context");
  AddSteeringOptions(cmd, &a->steering);
}

void AddPolicyOption(CLI::App* cmd, std::string* policy) {
  cmd->add_option("--policy", *policy,
                  "precision: exact (float32 activations, matches the reference) or fast "
                  "(activations rounded to bf16 / int8 inside the matmuls)")
      ->capture_default_str();
}

void AddThreadsOption(CLI::App* cmd, int* threads) {
  cmd->add_option("--threads", *threads, "threads (default: the cores that are idle at start)");
}

GenerateOptions MakeGenerateOptions(const GenerationArgs& a) {
  Check(a.max_new_tokens >= 0,
        "--max-new-tokens must be >= 0, got " + std::to_string(a.max_new_tokens));
  GenerateOptions c;
  c.max_new_tokens = a.max_new_tokens;
  c.sampling.temperature = a.temperature;
  c.sampling.top_k = a.top_k;
  c.sampling.top_p = a.top_p;
  c.sampling.min_p = a.min_p;
  c.sampling.repetition_penalty = a.repeat_penalty;
  c.sampling.seed =
      a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}() & 0x7fffffffu;
  for (const std::string& s : a.stop) Check(!s.empty(), "--stop: empty stop string");
  c.stop_strings = a.stop;
  try {
    ValidateGenerateOptions(c);
  } catch (const Error& e) {
    // Name the command-line flag rather than the config field.
    std::string message = e.what();
    for (auto [field, flag] :
         {std::pair{"temperature", "--temperature"}, std::pair{"top_k", "--top-k"},
          std::pair{"top_p", "--top-p"}, std::pair{"min_p", "--min-p"},
          std::pair{"repetition_penalty", "--repeat-penalty"}})
      if (message.rfind(field, 0) == 0) message = flag + message.substr(std::string(field).size());
    throw Error(message);
  }
  return c;
}

LoadedModel LoadModelAndTokenizer(const GenerationArgs& a, std::function<void()> on_progress) {
  LoadedModel out;
  // The steering files first: a bad one is reported before a long model load.
  out.steering = LoadSteering(a.steering);
  out.model = std::make_unique<Model>(
      LoadModel(a.model, MakeEngine(a.policy, a.threads), std::move(on_progress)));
  out.hooks = out.steering.MakeHooks(out.model->config());
  out.tokenizer = std::make_unique<Tokenizer>(Tokenizer::ForModel(*out.model, a.tokenizer));
  return out;
}

void AttachToModel(const GenerationArgs& a, const LoadedModel& m, GenerateOptions* config) {
  config->hooks = m.steering_hooks();
  if (a.ignore_eos) config->banned_token_ids = m.tokenizer->end_token_ids();
}

void PrintSpeed(const GenerationStats& s) {
  const int64_t fed = s.prompt_tokens - s.cached_tokens;
  const double pp = s.prefill_seconds > 0 ? static_cast<double>(fed) / s.prefill_seconds : 0.0;
  const double tg =
      s.decode_seconds > 0 ? static_cast<double>(s.generated_tokens) / s.decode_seconds : 0.0;
  const std::string cached =
      s.cached_tokens > 0 ? " (" + std::to_string(s.cached_tokens) + " cached)" : "";
  std::fprintf(stderr,
               "\n[prompt %lld tok%s, %.1f tok/s, %.3f s | generated %lld tok, %.1f tok/s]\n",
               static_cast<long long>(s.prompt_tokens), cached.c_str(), pp, s.prefill_seconds,
               static_cast<long long>(s.generated_tokens), tg);
}

}  // namespace talkie::cli
