// Steering: control vectors (llama.cpp's control-vector GGUF files, or
// safetensors) added to the residual stream, and directional ablation
// (projecting a direction out of it), both as hooks (hooks.h) so they work in
// every forward path and keep every bitwise guarantee of the contract.
//
// Semantics follow llama.cpp: direction.N is added to the output of block N
// (0-based), after the embedding skip, i.e. at blocks.N.hook_resid_post;
// several vectors are summed, each times its scale; a layer range (inclusive)
// limits which blocks get theirs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/hooks.h"

namespace talkie::model {

// Adds `vector` to every row at `name` (row width = vector size): row[i] + v[i],
// nothing else, so the result is the unsteered value plus the vector, bit for bit.
void AddVectorHook(HookSet& hooks, HookName name, std::vector<float> vector);
// x -= (x . d) d for every row, d = direction / |direction|; the dot product
// runs in index order in double, so a row gets the same bits wherever it runs.
// Throws if the direction is empty, zero or not finite.
void AddProjectOutHook(HookSet& hooks, HookName name, std::vector<float> direction);

// Directional ablation of the whole residual stream: AddProjectOutHook at
// blocks.0.hook_resid_pre and at every block's hook_resid_mid and hook_resid_post.
void AddAblationHooks(HookSet& hooks, const std::vector<float>& direction);

// One control-vector file: direction.N -> [width] floats.
struct ControlVector {
  std::string origin;  // the file, for errors
  int64_t width = 0;
  std::map<int64_t, std::vector<float>> directions;
};
// Reads a GGUF file (general.architecture = controlvector, F32 tensors
// direction.N of one width) or a safetensors file (tensors direction.N,
// F32 / F16 / BF16). Throws talkie::Error naming the file and what is wrong.
ControlVector LoadControlVector(const std::string& path);
// Reads one direction for ablation: a safetensors or GGUF file holding exactly
// one tensor with n_embd elements ([n_embd] or [1, n_embd]).
std::vector<float> LoadDirection(const std::string& path);

struct ScaledControlVector {
  ControlVector vector;
  float scale = 1.0f;
};

struct SteeringPlan {
  std::vector<ScaledControlVector> vectors;
  // Blocks that get their direction, inclusive; -1 = from the first / to the
  // last block.
  int64_t layer_start = -1;
  int64_t layer_end = -1;
  // Directions projected out of the residual stream at every layer: at
  // blocks.0.hook_resid_pre and at every block's hook_resid_mid and
  // hook_resid_post (after the control vectors), so no block reads or writes
  // a component along them.
  std::vector<std::vector<float>> ablations;

  bool empty() const { return vectors.empty() && ablations.empty(); }
};

// The hooks of a plan for a model: checks every vector's width and layers
// against the config (Error naming the file) and sums the scaled vectors
// per block (a single vector at scale 1 is added as stored).
HookSet MakeSteeringHooks(const SteeringPlan& plan, const ModelConfig& config);

}  // namespace talkie::model
