// talkie::Engine: the settings a model runs with — thread count, precision
// policy, and (for tests and benchmarks) a forced kernel path. Nothing in the
// library is process-global: each call applies its model's engine settings to
// the calling thread only for the duration of the call, so two models with
// different settings can live (and run concurrently) in one process, and the
// host program's own OpenMP settings (omp_set_num_threads, ...) are never
// changed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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
  // The threads a call under this engine uses: options().threads, or when 0
  // the calling thread's OpenMP default ($OMP_NUM_THREADS, else all cores).
  int threads() const;

 private:
  EngineOptions options_;
};

// Progress of a slow stage of work: re-laying a GGUF file's blocks, packing
// weights for the fast policy, writing a large file. `stage` names it;
// done / total count its bytes. Called on the thread that made the call (never
// from inside a parallel region), so it may throw to abandon the work.
using ProgressCallback =
    std::function<void(const std::string& stage, uint64_t done, uint64_t total)>;

// Which kernels run on this CPU under `engine`'s settings (`talkie info`).
struct KernelReport {
  std::string exact;                    // the exact policy's SIMD target ("AVX3", "NEON", ...)
  std::string fast_int8;                // the fast policy on q8 / q4 weights ("AVX512-VNNI", ...)
  std::string fast_bf16;                // the fast policy on bf16 weights ("AVX512-BF16", ...)
  std::string fast_ggml;                // the fast policy on GGUF Q4_K / Q5_0 / Q6_K blocks
  std::vector<std::string> int8_paths;  // every int8 path this build and CPU can run
  std::string simd_cap;                 // $TALKIE_SIMD when it caps the targets, else ""
};
TALKIE_API KernelReport Kernels(const Engine& engine = Engine());

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
