// Steering flags shared by generate, chat, forward, perplexity, capture and
// serve: control vectors (llama.cpp's flags and semantics) and directional
// ablation, turned into hooks for the loaded model (model/steering.h).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "model/config.h"
#include "model/hooks.h"
#include "model/steering.h"

namespace talkie::cli {

struct SteeringArgs {
  std::vector<std::string> vectors;  // --control-vector FILE (scale 1)
  std::vector<std::string> scaled;   // --control-vector-scaled FILE SCALE, flattened
  std::vector<int64_t> layer_range;  // --control-vector-layer-range A B
  std::vector<std::string> ablate;   // --ablate-direction FILE
};

void AddSteeringOptions(CLI::App* cmd, SteeringArgs* args);

// Loads the files the flags name (Error naming the flag and file). The plan
// keeps each vector's file stem as its name (the server's per-request field
// refers to vectors by it); model::MakeSteeringHooks(plan, config) then makes
// the hooks once the model is loaded.
struct NamedSteering {
  model::SteeringPlan plan;
  std::vector<std::string> names;  // plan.vectors[i] is named names[i]
};
NamedSteering LoadSteering(const SteeringArgs& args);

}  // namespace talkie::cli
