// Steering flags (see steering_options.h).
#include "cli/steering_options.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "talkie/error.h"

namespace talkie::cli {
namespace {

float ParseScale(const std::string& text, const std::string& file) {
  char* end = nullptr;
  const float scale = std::strtof(text.c_str(), &end);
  Check(!text.empty() && end == text.c_str() + text.size() && std::isfinite(scale),
        "--control-vector-scaled " + file + " " + text + ": the scale must be a finite number");
  return scale;
}

}  // namespace

void AddSteeringOptions(CLI::App* cmd, SteeringArgs* args) {
  const std::string group = "Steering";
  cmd->add_option("--control-vector", args->vectors,
                  "add a control vector (llama.cpp GGUF or safetensors, direction.N added to "
                  "block N's output); repeatable")
      ->group(group)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--control-vector-scaled", args->scaled,
                  "FILE SCALE: add a control vector times SCALE; repeatable")
      ->group(group)
      ->expected(2)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--control-vector-layer-range", args->layer_range,
                  "A B: apply control vectors to blocks A..B only (inclusive, 0-based)")
      ->group(group)
      ->expected(2);
  cmd->add_option("--ablate-direction", args->ablate,
                  "project this direction (a file with one [n_embd] tensor) out of the "
                  "residual stream at every layer; repeatable")
      ->group(group)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

Steering LoadSteering(const SteeringArgs& args) {
  Steering out;
  auto add = [&out](const std::string& flag, const std::string& path, float scale) {
    Check(std::filesystem::is_regular_file(path), flag + " " + path + ": no such file");
    out.AddControlVector(path, scale);
  };
  for (const std::string& path : args.vectors) add("--control-vector", path, 1.0f);
  Check(args.scaled.size() % 2 == 0, "--control-vector-scaled takes FILE SCALE");
  for (size_t i = 0; i + 1 < args.scaled.size(); i += 2)
    add("--control-vector-scaled", args.scaled[i], ParseScale(args.scaled[i + 1], args.scaled[i]));
  if (!args.layer_range.empty()) {
    Check(args.layer_range.size() == 2, "--control-vector-layer-range takes A B");
    Check(args.layer_range[0] >= 0 && args.layer_range[0] <= args.layer_range[1],
          "--control-vector-layer-range " + std::to_string(args.layer_range[0]) + " " +
              std::to_string(args.layer_range[1]) + ": need 0 <= A <= B");
    out.SetLayerRange(args.layer_range[0], args.layer_range[1]);
  }
  for (const std::string& path : args.ablate) {
    Check(std::filesystem::is_regular_file(path), "--ablate-direction " + path + ": no such file");
    out.AddAblation(path);
  }
  return out;
}

}  // namespace talkie::cli
