// Thread count for the kernels (see parallel.h).
#include "ops/parallel.h"

#include <omp.h>

namespace talkie::ops {
namespace {
int g_threads = 0;
}

void SetNumThreads(int threads) { g_threads = threads > 0 ? threads : 0; }

int NumThreads() { return g_threads > 0 ? g_threads : omp_get_max_threads(); }

}  // namespace talkie::ops
