// `talkie quantize`: write a q8 / q4 copy of a model (or a GGUF file for
// llama.cpp; talkie/convert.h), and optionally report its logit quality
// against the original on a text file.
#include <cstdio>
#include <optional>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/output_guard.h"
#include "cli/progress_bar.h"
#include "cli/quality.h"
#include "talkie/convert.h"
#include "talkie/error.h"
#include "talkie/model.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

struct QuantizeArgs {
  std::string model;
  std::string type;
  std::string out;
  std::string eval_file;
  std::string tokenizer;
  std::string policy = "exact";
  bool force = false;
  int threads = 0;
};

bool EndsWithGguf(const std::string& path) {
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

// --out FILE.gguf: one GGUF file in llama.cpp's Talkie layout.
void RunGgufExport(const QuantizeArgs& a) {
  const GgufType type = ParseGgufType(a.type);
  Check(a.eval_file.empty(),
        "--eval-file works with the q8 / q4 model folders, not --out FILE.gguf");
  const Engine exact = MakeEngine("exact", a.threads);
  MakeEngine(a.policy, a.threads);  // validates --policy
  const std::string input = ResolveModelPath(a.model);
  CheckPlainOutputFile(a.out, "--out", input, a.force);
  const Model original = LoadModel(input, exact);
  // The tokenizer goes into the file for llama.cpp: --tokenizer, else the
  // model's own when it has one.
  std::optional<Tokenizer> tokenizer;
  try {
    tokenizer.emplace(Tokenizer::ForModel(original, a.tokenizer));
  } catch (const Error& e) {
    if (!a.tokenizer.empty()) throw;
    std::fprintf(stderr,
                 "talkie: note: no tokenizer written (%s); llama.cpp runs the file on ids\n",
                 e.what());
  }
  {
    WriteProgressBar bar;
    ExportGguf(original, type, a.out, tokenizer ? &*tokenizer : nullptr, bar.Callback());
  }
  std::fprintf(stderr, "wrote %s (GGUF, %s%s)\n", a.out.c_str(), a.type.c_str(),
               tokenizer ? ", with its tokenizer" : "");
}

void RunQuantize(const QuantizeArgs& a) {
  if (EndsWithGguf(a.out)) return RunGgufExport(a);
  Check(a.type == "q8" || a.type == "q4", "--type must be q8 or q4, got '" + a.type + "'");
  const Engine candidate = MakeEngine(a.policy, a.threads);
  if (!a.eval_file.empty()) CheckReadableFile(a.eval_file, "--eval-file");
  const std::string input = ResolveModelPath(a.model);
  CheckModelOutputDir(a.out, input, a.force);
  const Model original = LoadModel(input, MakeEngine("exact", a.threads));
  {
    WriteProgressBar bar;
    Quantize(original, a.type == "q8" ? QuantType::kQ8 : QuantType::kQ4, a.out, bar.Callback());
  }
  std::fprintf(stderr, "wrote %s (%s)\n", a.out.c_str(), a.type.c_str());
  if (a.eval_file.empty()) return;
  const Model quantized = LoadModel(a.out, candidate);
  PrintLogitQuality(original, quantized, a.eval_file,
                    a.type + (a.policy == "exact" ? "" : " (" + a.policy + " policy)"), "original");
}

}  // namespace

void RegisterQuantizeCommand(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Write a q8 / q4 group-quantized copy of a model, or a GGUF file for llama.cpp");
  cmd->add_option("-m,--model", a->model, "model to quantize (default: the bundled model)");
  cmd->add_option("--type", a->type,
                  "q8 or q4; with --out FILE.gguf also bf16 or f32 (q8 = Q8_0, q4 = Q4_0)")
      ->required();
  cmd->add_option("-o,--out", a->out,
                  "output directory, or a .gguf file (llama.cpp's Talkie layout)")
      ->required();
  cmd->add_option("--eval-file", a->eval_file,
                  "text file: report KL / top-1 agreement against the original");
  cmd->add_option("--tokenizer", a->tokenizer,
                  "with --out FILE.gguf: the tokenizer to write into it (default: the model's)");
  AddPolicyOption(cmd, &a->policy);
  AddThreadsOption(cmd, &a->threads);
  cmd->add_flag("--force", a->force, "replace a model already in --out");
  cmd->callback([a] { RunQuantize(*a); });
}

}  // namespace talkie::cli
