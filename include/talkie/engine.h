// talkie::Engine: the settings a model runs with — thread count, precision
// policy, and (for tests and benchmarks) a forced kernel path. Nothing in the
// library is process-global: each call applies its model's engine settings to
// the calling thread only for the duration of the call, so two models with
// different settings can live (and run concurrently) in one process, and the
// host program's own OpenMP settings (omp_set_num_threads, ...) are never
// changed.
#pragma once

#include <string>

#include "talkie/export.h"

namespace talkie {

// Precision policy:
//   kExact: float32 activations; logits match the reference implementation.
//   kFast: activations rounded inside the matmuls (bf16, or int8 per group of
//          32 for q8 / q4 weights) to use the CPU's bf16 / int8 dot products;
//          bit-identical guarantees kept, mean KL ~4e-5 nats against exact.
enum class Policy { kExact, kFast };

struct EngineOptions {
  int threads = 0;  // 0 = OpenMP's default: $OMP_NUM_THREADS, else all cores
  Policy policy = Policy::kExact;
  // The fast policy's int8 kernels: "" = the best this CPU has, else one of
  // "AVX512-VNNI", "AVX-VNNI", "AVX2" (x86-64), "NEON-I8MM", "NEON-DOTPROD",
  // "NEON" (aarch64), "portable" (Error if the build or the CPU lacks it).
  std::string kernel_path = {};
};

class TALKIE_API Engine {
 public:
  // Validates the options (Error naming the field).
  explicit Engine(EngineOptions options = {});
  const EngineOptions& options() const { return options_; }

 private:
  EngineOptions options_;
};

// "exact" / "fast"; ParsePolicy throws Error for anything else.
TALKIE_API Policy ParsePolicy(const std::string& name);
TALKIE_API const char* PolicyName(Policy policy);

// The library version ("0.1.0") and the SIMD target its kernels chose on this CPU.
TALKIE_API const char* Version();
TALKIE_API std::string SimdTarget();

// Where the default model is: $TALKIE_MODEL if set (Error if it names nothing),
// else the bundled talkie-tiny-1930 installed beside the library or program
// (<prefix>/share/talkie/models/), else the build tree's copy. Error naming
// the places looked at when none exists.
TALKIE_API std::string DefaultModelPath();

}  // namespace talkie
