// `talkie quantize`: write a q8 / q4 copy of a model, and optionally report
// its logit quality against the original on a text file.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/error.h"
#include "model/quantize.h"
#include "tokenizer/tokenizer.h"

namespace talkie::cli {
namespace {

struct QuantizeArgs {
  std::string model;
  std::string type;
  std::string out;
  std::string eval_file;
};

void RunQuantize(const QuantizeArgs& a) {
  Check(a.type == "q8" || a.type == "q4", "--type must be q8 or q4, got '" + a.type + "'");
  const auto original = LoadModel(a.model);
  model::QuantizeModel(*original, a.type == "q8" ? ops::WeightType::kQ8 : ops::WeightType::kQ4,
                       a.out);
  std::fprintf(stderr, "wrote %s (%s)\n", a.out.c_str(), a.type.c_str());
  if (a.eval_file.empty()) return;
  std::ifstream in(a.eval_file, std::ios::binary);
  Check(static_cast<bool>(in), a.eval_file + ": cannot open text file");
  std::stringstream text;
  text << in.rdbuf();
  const auto tok = tokenizer::Tokenizer::FromPath(original->directory(), std::nullopt,
                                                  original->config().vocab_size);
  const std::vector<int32_t> ids = tok.Encode(text.str(), false);
  const auto quantized = model::Model::Load(a.out);
  const model::QualityReport r = model::CompareLogits(*original, *quantized, ids);
  std::printf(
      "%s vs original on %lld positions: mean KL %.6f nats (max %.4f), top-1 agreement %.2f%%, "
      "max |logit diff| %.4f, finite: %s\n",
      a.type.c_str(), static_cast<long long>(r.positions), r.mean_kl, r.max_kl,
      100.0 * r.top1_agreement, r.max_abs_logit_diff, r.finite ? "yes" : "NO");
}

}  // namespace

void RegisterQuantizeCommand(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Write a q8 / q4 group-quantized copy of a model");
  cmd->add_option("-m,--model", a->model, "model to quantize (default: the bundled model)");
  cmd->add_option("--type", a->type, "q8 or q4")->required();
  cmd->add_option("-o,--out", a->out, "output directory")->required();
  cmd->add_option("--eval-file", a->eval_file,
                  "text file: report KL / top-1 agreement against the original");
  cmd->callback([a] { RunQuantize(*a); });
}

}  // namespace talkie::cli
