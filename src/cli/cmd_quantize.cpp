// `talkie quantize`: write a q8 / q4 copy of a model (or a GGUF file for
// llama.cpp, model/gguf_export.h), and optionally report
// its logit quality against the original on a text file.
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/output_guard.h"
#include "cli/progress_bar.h"
#include "cli/quality.h"
#include "model/gguf_export.h"
#include "model/quantize.h"
#include "talkie/error.h"
#include "tokenizer/gguf_metadata.h"

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
  const model::GgufExportType type = model::ParseGgufExportType(a.type);
  Check(a.eval_file.empty(),
        "--eval-file works with the q8 / q4 model folders, not --out FILE.gguf");
  ParsePolicy(a.policy);
  ApplyThreads(a.threads);
  const std::string input = ResolveModelPath(a.model);
  CheckPlainOutputFile(a.out, "--out", input, a.force);
  const auto original = LoadModel(input);
  // The tokenizer goes into the file for llama.cpp: --tokenizer, else the
  // model's own when it has one.
  std::vector<io::GgufEntry> tokenizer_metadata;
  const int64_t vocab = original->config().vocab_size;
  try {
    const std::string path = a.tokenizer.empty() ? original->tokenizer_path() : a.tokenizer;
    tokenizer_metadata = tokenizer::GgufTokenizerMetadata(
        tokenizer::Tokenizer::FromPath(path, std::nullopt, vocab), vocab);
  } catch (const Error& e) {
    if (!a.tokenizer.empty()) throw;
    std::fprintf(stderr,
                 "talkie: note: no tokenizer written (%s); llama.cpp runs the file on ids\n",
                 e.what());
  }
  {
    const ScopedWriteProgress progress;
    model::ExportGguf(*original, type, a.out, tokenizer_metadata);
  }
  std::fprintf(stderr, "wrote %s (GGUF, %s%s)\n", a.out.c_str(), a.type.c_str(),
               tokenizer_metadata.empty() ? "" : ", with its tokenizer");
}

void RunQuantize(const QuantizeArgs& a) {
  if (EndsWithGguf(a.out)) return RunGgufExport(a);
  Check(a.type == "q8" || a.type == "q4", "--type must be q8 or q4, got '" + a.type + "'");
  ParsePolicy(a.policy);
  if (!a.eval_file.empty()) CheckReadableFile(a.eval_file, "--eval-file");
  ApplyThreads(a.threads);
  const std::string input = ResolveModelPath(a.model);
  CheckModelOutputDir(a.out, input, a.force);
  const auto original = LoadModel(input);
  {
    const ScopedWriteProgress progress;
    model::QuantizeModel(*original, a.type == "q8" ? ops::WeightType::kQ8 : ops::WeightType::kQ4,
                         a.out);
  }
  std::fprintf(stderr, "wrote %s (%s)\n", a.out.c_str(), a.type.c_str());
  if (a.eval_file.empty()) return;
  const auto quantized = LoadModel(a.out, a.policy);
  PrintLogitQuality(*original, *quantized, a.eval_file,
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
