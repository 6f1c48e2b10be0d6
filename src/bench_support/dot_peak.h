// The fast policy's instruction peak, for the roofline (roofline.cpp).
#pragma once

#include <cstdint>

namespace talkie::bench_support {

// `iterations` rounds of 28 independent VDPBF16PS (bf16) or VPDPBUSD (int8)
// chains; returns the operations done (2 per multiply-add). Only on a CPU
// with AVX512-BF16 (bf16) / AVX512-VNNI (int8).
double DotLoopAvx512(bool bf16, int64_t iterations, float* sink);

}  // namespace talkie::bench_support
