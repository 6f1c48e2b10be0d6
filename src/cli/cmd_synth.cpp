// `talkie synth`: write a random-weight Talkie checkpoint at a real shape so
// benchmarks need no download.
#include <cstdio>

#include "cli/commands.h"
#include "cli/output_guard.h"
#include "cli/progress_bar.h"
#include "cli/validators.h"
#include "talkie/convert.h"
#include "talkie/error.h"

namespace talkie::cli {
namespace {

struct SynthArgs {
  std::string shape = "talkie-1b";
  std::string dtype = "bf16";
  std::string out;
  uint64_t seed = 1;
  bool force = false;
};

void RunSynth(const SynthArgs& a) {
  WeightType type;
  if (a.dtype == "bf16")
    type = WeightType::kBF16;
  else if (a.dtype == "f16")
    type = WeightType::kF16;
  else if (a.dtype == "f32")
    type = WeightType::kF32;
  else
    throw Error("--dtype must be bf16, f16 or f32, got '" + a.dtype + "'");
  CheckModelOutputDir(a.out, /*input_model=*/"", a.force);
  {
    WriteProgressBar bar;
    WriteSyntheticModel(a.out, a.shape, type, a.seed, bar.Callback());
  }
  std::fprintf(stderr, "wrote %s (%s, %s)\n", a.out.c_str(), a.shape.c_str(), a.dtype.c_str());
}

}  // namespace

void RegisterSynthCommand(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write a random-weight model at a real Talkie shape (for benchmarks)");
  cmd->add_option("--shape", a->shape, "talkie-13b | talkie-1b | talkie-tiny")
      ->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "bf16 | f16 | f32")->capture_default_str();
  cmd->add_option("-o,--out", a->out, "output directory")->required();
  cmd->add_option("--seed", a->seed, "random seed")->check(SeedValue())->capture_default_str();
  cmd->add_flag("--force", a->force, "replace a model already in --out");
  cmd->callback([a] { RunSynth(*a); });
}

}  // namespace talkie::cli
