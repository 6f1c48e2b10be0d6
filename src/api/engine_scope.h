// EngineScope: applies an Engine's settings to the calling thread for the
// duration of one API call (thread count, forced kernel path), restoring the
// previous ones on exit. This is what keeps the library free of process-global
// state: two engines can run side by side on different threads.
#pragma once

#include "ops/matmul_lowp.h"
#include "ops/parallel.h"
#include "talkie/engine.h"

namespace talkie::api {

class EngineScope {
 public:
  explicit EngineScope(const Engine& engine)
      : threads_(engine.options().threads), path_(engine.options().kernel_path) {}

 private:
  ops::ScopedNumThreads threads_;
  ops::ScopedLowPrecisionPath path_;
};

}  // namespace talkie::api
