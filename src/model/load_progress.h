// An observer of the slow parts of loading a model: re-laying a GGUF file's
// quantized blocks (and its sign-flipped q / k copies) and packing q8 / q4
// weights for the fast policy read every byte of the checkpoint. Loading
// that only maps the file (safetensors, PyTorch zips, F32/F16/BF16 weights
// used in place) is instant and reports nothing. The command-line program
// draws a progress bar from it. Process-wide; reports come from the loading
// thread only, outside parallel regions, so an observer may throw to
// abandon the load (the exception leaves Model::Load / SetPrecision). The
// observer is per thread: loads on other threads do not see it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace talkie::model {

// stage: what is being done ("re-laying model.gguf", "packing weights");
// done / total: bytes of that stage.
using LoadProgress = std::function<void(const std::string& stage, uint64_t done, uint64_t total)>;

// Installs `observer` for the calling thread (an empty function removes it).
void SetLoadProgress(LoadProgress observer);
// Installs an observer for one scope and restores the previous one after.
class ScopedLoadProgress {
 public:
  explicit ScopedLoadProgress(LoadProgress observer);
  ~ScopedLoadProgress();
  ScopedLoadProgress(const ScopedLoadProgress&) = delete;
  ScopedLoadProgress& operator=(const ScopedLoadProgress&) = delete;

 private:
  LoadProgress previous_;
};
// Called by the loaders.
void ReportLoadProgress(const std::string& stage, uint64_t done, uint64_t total);

}  // namespace talkie::model
