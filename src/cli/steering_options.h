// Steering flags shared by generate, chat, forward, perplexity, capture and
// serve: control vectors (llama.cpp's flags and semantics) and directional
// ablation, turned into hooks for the loaded model (model/steering.h).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "talkie/steering.h"

namespace talkie::cli {

struct SteeringArgs {
  std::vector<std::string> vectors;  // --control-vector FILE (scale 1)
  std::vector<std::string> scaled;   // --control-vector-scaled FILE SCALE, flattened
  std::vector<int64_t> layer_range;  // --control-vector-layer-range A B
  std::vector<std::string> ablate;   // --ablate-direction FILE
};

void AddSteeringOptions(CLI::App* cmd, SteeringArgs* args);

// Loads the files the flags name (Error naming the flag and file). Each
// vector is named after its file stem (the server's per-request field refers
// to vectors by it); Steering::MakeHooks then makes the hooks once the model
// is loaded.
Steering LoadSteering(const SteeringArgs& args);

}  // namespace talkie::cli
