// Engine settings, version, and the run-time search for the default model.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/matmul.h"
#include "ops/matmul_lowp.h"
#include "ops/parallel.h"
#include "talkie/engine.h"
#include "talkie/error.h"

#ifndef TALKIE_VERSION
#define TALKIE_VERSION "unknown"
#endif
#ifndef TALKIE_INSTALL_DATADIR
#define TALKIE_INSTALL_DATADIR ""
#endif

namespace talkie {
namespace fs = std::filesystem;

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  Check(options_.threads >= 0,
        "engine: threads must be >= 0 (0 = all cores), got " + std::to_string(options_.threads));
  Check(options_.policy == Policy::kExact || options_.policy == Policy::kFast,
        "engine: unknown policy");
  ops::CheckLowPrecisionPath(options_.kernel_path);
}

Policy ParsePolicy(const std::string& name) {
  if (name == "exact") return Policy::kExact;
  if (name == "fast") return Policy::kFast;
  throw Error("policy must be 'exact' or 'fast', got '" + name + "'");
}

const char* PolicyName(Policy policy) { return policy == Policy::kFast ? "fast" : "exact"; }

const char* Version() { return TALKIE_VERSION; }

std::string SimdTarget() { return ops::MatMulTarget(); }

KernelReport Kernels(const Engine& engine) {
  const ops::ScopedLowPrecisionPath path(engine.options().kernel_path);
  KernelReport r;
  r.exact = ops::MatMulTarget();
  r.fast_int8 = ops::LowPrecisionPath(ops::WeightType::kQ8);
  r.fast_bf16 = ops::LowPrecisionPath(ops::WeightType::kBF16);
  r.fast_ggml = ops::LowPrecisionPath(ops::WeightType::kQ4_K);
  r.int8_paths = ops::LowPrecisionPaths();
  r.simd_cap = ops::SimdCap();
  return r;
}

int ThreadCount(const Engine& engine) {
  const ops::ScopedNumThreads threads(engine.options().threads);
  return ops::NumThreads();
}

namespace {

constexpr const char* kDefaultModelName = "talkie-tiny-1930";

// Folder of the file this code was loaded from: libtalkie.so when shared,
// else the program it is linked into.
fs::path OwnBinaryDir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&DefaultModelPath), &info) != 0 && info.dli_fname != nullptr)
    return fs::absolute(info.dli_fname).parent_path();
  return {};
}

fs::path ProgramDir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

}  // namespace

std::string DefaultModelPath() {
  if (const char* env = std::getenv("TALKIE_MODEL"); env != nullptr && *env != '\0') {
    std::error_code ec;
    Check(fs::exists(env, ec), std::string("$TALKIE_MODEL is set to '") + env +
                                   "', which does not exist (unset it to use the bundled model)");
    return env;
  }
  // <dir>/../share (installed: bin/ or lib/), <dir>/../../share (lib/<multiarch>/),
  // <dir>/share (the build tree), then the configured install prefix.
  std::vector<fs::path> candidates;
  for (const fs::path& dir : {OwnBinaryDir(), ProgramDir()}) {
    if (dir.empty()) continue;
    for (const char* up : {"..", "../..", "."})
      candidates.push_back(dir / up / "share/talkie/models" / kDefaultModelName);
  }
  if (*TALKIE_INSTALL_DATADIR != '\0')
    candidates.push_back(fs::path(TALKIE_INSTALL_DATADIR) / "talkie/models" / kDefaultModelName);
  std::string looked;
  for (const fs::path& c : candidates) {
    std::error_code ec;
    if (fs::is_directory(c, ec)) return fs::weakly_canonical(c, ec).string();
    looked += "\n  " + c.lexically_normal().string();
  }
  throw Error(
      "the default model (" + std::string(kDefaultModelName) +
      ") is not installed; looked in:" + looked +
      "\nPass a model path: a Talkie checkpoint directory (config.json + model.safetensors) or "
      "file (.safetensors, rl-refined.pt, final.ckpt), or set TALKIE_MODEL.");
}

}  // namespace talkie
