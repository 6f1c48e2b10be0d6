// Measurements of this machine's limits, taken in the same run as a
// benchmark so speeds can be reported as fractions of them.
#pragma once

#include <cstdint>

#include "ops/weights.h"

namespace talkie::bench_support {

// Memory read bandwidth in GB/s: `threads` threads summing a buffer of
// `bytes` (much larger than the caches), best of `reps` passes.
double MeasureReadBandwidth(int threads, int64_t bytes = int64_t{1} << 30, int reps = 5);

// Float32 fused multiply-add throughput in GFLOP/s (2 flops per lane per FMA)
// with the SIMD target the kernels use, over `threads` threads.
double MeasureFmaPeak(int threads);

// The fast policy's dot-product peak in GOP/s (2 ops per multiply-add) for
// the kernel that `type` (kBF16: VDPBF16PS; kQ8 / kQ4: VPDPBUSD) uses on this
// CPU; 0 when the CPU lacks the instruction.
double MeasureLowPrecisionPeak(ops::WeightType type, int threads);

}  // namespace talkie::bench_support
