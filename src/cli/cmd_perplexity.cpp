// `talkie perplexity`: held-out perplexity of a text file under the model.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/progress_bar.h"
#include "cli/prompt_input.h"
#include "cli/validators.h"
#include "talkie/error.h"

namespace talkie::cli {
namespace {

struct PerplexityArgs {
  GenerationArgs gen;  // model, tokenizer, threads
  std::string file;
  int64_t window = 0;
  int64_t stride = 0;
  bool json = false;
};

void RunPerplexity(const PerplexityArgs& a) {
  CheckReadableFile(a.file, "--file");
  const std::string text = ReadFileBytes(a.file);
  const LoadedModel m = LoadModelAndTokenizer(a.gen);
  const std::vector<int32_t> ids = m.tokenizer->Encode(text, /*allow_special=*/false);
  Check(ids.size() >= 2, a.file + ": needs at least 2 tokens of text");
  ScoreResult r;
  {
    // On a terminal: tokens scored, their rate and the time left.
    ProgressBar bar;
    r = m.model->Score(ids, a.window, a.stride, m.steering_hooks(),
                       [&bar](int64_t scored, int64_t total) {
                         bar.UpdateCount("perplexity", static_cast<uint64_t>(scored),
                                         static_cast<uint64_t>(total), "tok");
                       });
  }
  const auto tokens = static_cast<int64_t>(r.token_logprobs.size());
  if (a.json) {
    std::printf(
        "%s\n",
        nlohmann::json{{"perplexity", r.perplexity}, {"tokens", tokens}, {"mean_nll", r.mean_nll}}
            .dump()
            .c_str());
  } else {
    std::printf("perplexity %.4f over %lld tokens (mean NLL %.5f nats)\n", r.perplexity,
                static_cast<long long>(tokens), r.mean_nll);
  }
}

}  // namespace

void RegisterPerplexityCommand(CLI::App& app) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "Perplexity of a text file (all positions, context-length windows)");
  cmd->add_option("-m,--model", a->gen.model,
                  "model directory or checkpoint file (default: the bundled model)");
  cmd->add_option("--tokenizer", a->gen.tokenizer,
                  "vocab.txt / tokenizer.json / .gguf / directory (default: the model's)");
  cmd->add_option("-f,--file", a->file, "UTF-8 text file")->required();
  // 0 is not a way to ask for the default: leave the option out for that.
  cmd->add_option("--window", a->window, "tokens per window (default: the model's context)")
      ->check(IntegerIn(1));
  cmd->add_option("--stride", a->stride,
                  "window step (default: the window; smaller = overlapping windows)")
      ->check(IntegerIn(1));
  AddThreadsOption(cmd, &a->gen.threads);
  AddPolicyOption(cmd, &a->gen.policy);
  AddSteeringOptions(cmd, &a->gen.steering);
  cmd->add_flag("--json", a->json, "print {\"perplexity\": x, \"tokens\": n}");
  cmd->callback([a] { RunPerplexity(*a); });
}

}  // namespace talkie::cli
