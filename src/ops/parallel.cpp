// Thread count for the kernels (see parallel.h).
#include "ops/parallel.h"

#include <omp.h>

namespace talkie::ops {
namespace {
int g_threads = 0;                // process default; 0 = OpenMP's
thread_local int t_threads = -1;  // -1 = no scope active on this thread
}  // namespace

void SetNumThreads(int threads) { g_threads = threads > 0 ? threads : 0; }

int NumThreads() {
  const int n = t_threads >= 0 ? t_threads : g_threads;
  return n > 0 ? n : omp_get_max_threads();
}

ScopedNumThreads::ScopedNumThreads(int threads) : saved_(t_threads) {
  t_threads = threads > 0 ? threads : 0;
}

ScopedNumThreads::~ScopedNumThreads() { t_threads = saved_; }

}  // namespace talkie::ops
