// `talkie compare`: logit quality of a model or precision policy against a
// reference model run with the exact policy, on a text file (mean KL, top-1
// agreement). E.g. the fast policy against the exact one on the same weights.
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/quality.h"
#include "talkie/engine.h"
#include "talkie/error.h"
#include "talkie/model.h"

namespace talkie::cli {
namespace {

struct CompareArgs {
  std::string model;
  std::string candidate;
  std::string policy = "fast";
  std::string file;
  int threads = 0;
};

void RunCompare(const CompareArgs& a) {
  const Engine candidate_engine = MakeEngine(a.policy, a.threads);
  CheckReadableFile(a.file, "--file");
  const Model reference = LoadModel(a.model, MakeEngine("exact", a.threads));
  const Model candidate = LoadModel(a.candidate.empty() ? a.model : a.candidate, candidate_engine);
  const std::string label = (a.candidate.empty() ? std::string("same weights") : a.candidate) +
                            ", " + a.policy + " policy";
  if (!PrintLogitQuality(reference, candidate, a.file, label, "exact reference"))
    throw Error("the candidate produced non-finite logits");
}

}  // namespace

void RegisterCompareCommand(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "KL / top-1 agreement of a model or policy against an exact reference");
  cmd->add_option("-m,--model", a->model,
                  "reference model, run exact (default: the bundled model)");
  cmd->add_option("--candidate", a->candidate,
                  "model to compare (default: the reference's weights)");
  AddPolicyOption(cmd, &a->policy);
  cmd->add_option("-f,--file", a->file, "UTF-8 text file")->required();
  AddThreadsOption(cmd, &a->threads);
  cmd->callback([a] { RunCompare(*a); });
}

}  // namespace talkie::cli
