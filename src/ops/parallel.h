// Thread count for the kernels. Work is only ever split over output elements
// (rows / columns / heads), never over a reduction, so results are identical
// for every thread count.
#pragma once

namespace talkie::ops {

// 0 = all available cores (OpenMP's default).
void SetNumThreads(int threads);
int NumThreads();

}  // namespace talkie::ops
