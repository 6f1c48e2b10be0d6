// This machine's limits, measured now, so that speed figures can be reported
// as ratios taken in the same run (the machines people benchmark on are
// shared and noisy): decode GB/s over read bandwidth, prefill GOP/s over the
// peak of the instruction the kernels use. What `talkie bench` prints.
//
//   const double gb_s = talkie::MeasureReadBandwidth(engine.threads());
//   std::printf("decode at %.0f%% of bandwidth\n",
//               100 * model.weight_footprint().matmul_bytes * tok_s / 1e9 / gb_s);
//
// Each call takes a fraction of a second to a few seconds and keeps every
// thread it is given busy. Not for concurrent use with other work.
#pragma once

#include <cstdint>
#include <string>

#include "talkie/export.h"

namespace talkie {

class Model;

// Memory read bandwidth in GB/s: `threads` threads summing a 1 GB buffer
// (far larger than the caches), best of five passes.
TALKIE_API double MeasureReadBandwidth(int threads);

// Float32 fused multiply-add throughput in GFLOP/s (2 flops per lane per
// FMA) on the SIMD target the exact policy's kernels use.
TALKIE_API double MeasureFmaPeak(int threads);

// The peak, in GOP/s (2 ops per multiply-add), of the dot-product instruction
// the fast policy's kernels use on `model`'s weights (VDPBF16PS for bf16,
// VPDPBUSD for q8 / q4); 0 when the model runs the exact policy or the CPU
// lacks the instruction. `kind` (optional) receives "bf16 dot" or "int8 dot".
TALKIE_API double MeasureDotPeak(const Model& model, int threads, std::string* kind = nullptr);

}  // namespace talkie
