// Thread count for the kernels. Work is only ever split over output elements
// (rows / columns / heads), never over a reduction, so results are identical
// for every thread count.
#pragma once

namespace talkie::ops {

// The process default (the CLI's --threads); 0 = all available cores
// (OpenMP's default).
void SetNumThreads(int threads);
// The count for the calling thread: its ScopedNumThreads if one is active,
// else the process default.
int NumThreads();

// Sets the calling thread's count for its lifetime (the public API's Engine
// does this around each call, so engines with different counts can run side
// by side). threads <= 0 = all available cores. Nests; restores on exit.
class ScopedNumThreads {
 public:
  explicit ScopedNumThreads(int threads);
  ~ScopedNumThreads();
  ScopedNumThreads(const ScopedNumThreads&) = delete;
  ScopedNumThreads& operator=(const ScopedNumThreads&) = delete;

 private:
  int saved_;
};

}  // namespace talkie::ops
