// Options shared by `talkie generate` and `talkie chat`: model, tokenizer,
// sampling, stops, threads; and loading the model + its tokenizer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/steering_options.h"
#include "talkie/generate.h"
#include "talkie/model.h"
#include "talkie/steering.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {

struct GenerationArgs {
  std::string model;
  std::string tokenizer;  // default: the model's directory
  int64_t max_new_tokens = 128;
  float temperature = 0.8f;
  int64_t top_k = 0;
  float top_p = 0.95f;
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;
  int64_t seed = -1;  // -1: random, printed so the run can be repeated
  std::vector<std::string> stop;
  int threads = 0;
  std::string policy = "exact";
  bool quiet = false;
  bool ignore_eos = false;  // the end tokens are never sampled
  SteeringArgs steering;    // --control-vector ... (steering_options.h)
};

void AddGenerationOptions(CLI::App* cmd, GenerationArgs* args);
// --policy exact|fast (talkie::Policy).
void AddPolicyOption(CLI::App* cmd, std::string* policy);
// --threads N (0 = the idle cores; MakeEngine in args.h resolves it).
void AddThreadsOption(CLI::App* cmd, int* threads);

// Validates the options and makes the generation options (resolving a
// random seed into a concrete one).
GenerateOptions MakeGenerateOptions(const GenerationArgs& args);

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  Steering steering;  // from the steering flags
  Hooks hooks;        // steering's hooks for the model; empty when none
  // What to put in GenerateOptions::hooks and friends: null when no steering.
  const Hooks* steering_hooks() const { return hooks.empty() ? nullptr : &hooks; }
};
// Loads the steering files, then the model (default model when none is
// given) and its tokenizer, and makes the steering hooks for the model.
// on_progress: as for LoadModel (args.h).
LoadedModel LoadModelAndTokenizer(const GenerationArgs& args,
                                  std::function<void()> on_progress = {});

// What the options take from the loaded model: the steering hooks, and the
// end tokens to ban for --ignore-eos.
void AttachToModel(const GenerationArgs& args, const LoadedModel& loaded, GenerateOptions* options);

// "prompt 12 tok, 150.2 tok/s | generated 40 tok, 31.0 tok/s" on stderr.
void PrintSpeed(const GenerationStats& stats);

}  // namespace talkie::cli
