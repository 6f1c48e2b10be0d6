// talkie::Steering: a steering setup read from files, as llama.cpp's
// --control-vector flags take it: control vectors (each named, with a
// scale), the blocks they apply to, and directions ablated from the residual
// stream. It becomes Hooks for a model, with any vector's scale overridden
// by name (the server's per-request `control_vectors`).
//
//   talkie::Steering s;
//   s.AddControlVector("happy.gguf", 0.8f);          // named "happy"
//   talkie::Hooks hooks = s.MakeHooks(model.config(), {{"happy", 1.5f}});
//
// Semantics: direction.N is added at blocks.N.hook_resid_post; several
// vectors are summed per block, each times its scale (one vector at scale 1
// is added as stored, bit for bit); ablations project their direction out at
// blocks.0.hook_resid_pre and every block's hook_resid_mid / hook_resid_post.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "talkie/export.h"
#include "talkie/hooks.h"

namespace talkie {

namespace model {
struct SteeringPlan;
}

struct ModelConfig;

class TALKIE_API Steering {
 public:
  Steering();
  ~Steering();
  Steering(const Steering&);
  Steering& operator=(const Steering&);
  Steering(Steering&&) noexcept;
  Steering& operator=(Steering&&) noexcept;

  // Reads a control vector (llama.cpp's control-vector GGUF, or safetensors
  // with tensors direction.N) now; Error naming the file for a bad one.
  // `name` defaults to the file's stem (MakeHooks can override the scale of a
  // name only when one vector has it).
  Steering& AddControlVector(const std::string& path, float scale = 1.0f, std::string name = "");
  // Control vectors apply to blocks first..last only (inclusive, 0-based).
  Steering& SetLayerRange(int64_t first, int64_t last);
  // Reads a direction (a safetensors or GGUF file holding one [n_embd]
  // tensor) to project out of the residual stream at every layer.
  Steering& AddAblation(const std::string& path);

  bool empty() const;
  // The control vectors' names, in the order they were added.
  const std::vector<std::string>& names() const { return names_; }
  // Each control vector's file (as given to AddControlVector) and scale, in
  // the order added (the order of names()).
  std::vector<std::pair<std::string, float>> control_vectors() const;

  // The hooks for a model of `config`: checks each vector's width and blocks
  // (Error naming the file). `scales` overrides the scale of the vectors it
  // names (Error for a name that is not one of names()).
  Hooks MakeHooks(const ModelConfig& config, const std::map<std::string, float>& scales = {}) const;

 private:
  friend struct SteeringAccess;
  std::unique_ptr<model::SteeringPlan> plan_;
  std::vector<std::string> names_;
};

}  // namespace talkie
