// The thread count used when --threads is not given. OpenMP's default (one
// thread per core) collapses when other processes keep cores busy: every
// parallel region waits for its slowest thread, and a thread whose core is
// taken runs only when the scheduler lets it (measured on 2 shared cores:
// 1.7 tok/s instead of hundreds). So the default counts only the cores of
// this process's CPU set that are mostly idle right now.
#pragma once

namespace talkie::cli {

// Cores of the affinity mask that were at least half idle over a short
// sample of /proc/stat (~50 ms), at least 1 and at most OpenMP's count;
// OpenMP's count when /proc/stat cannot be read.
int IdleCoreCount();

// The thread count for --threads N: N when given; 0 (not given) = the idle
// cores, unless the user chose through OpenMP's own $OMP_NUM_THREADS (then 0,
// OpenMP's default). Throws for a negative count.
int ResolveThreads(int threads);

}  // namespace talkie::cli
