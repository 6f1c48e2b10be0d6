// The fast policy's matmuls: y = x W^T with each activation row rounded
// inside the kernel, so the dot products run on the CPU's low-precision
// instructions. MatMul (matmul.h) sends matrices marked Precision::kFast here.
//
//   bf16 weights: x rounded to bf16 (nearest-even); AVX512-BF16 VDPBF16PS.
//   q8 / q4 weights: x quantized per group of 32 to int8 with a float scale
//     (amax / 127); exact int32 dot products per group (AVX512-VNNI VPDPBUSD),
//     then y += float(group dot) * (weight scale * activation scale).
//   other weights: the exact kernel.
//
// Determinism: every output element's arithmetic is fixed by k and the path
// chosen for this CPU, never by m, tiling or threads. The int8 path's only
// float steps are per group and in group order, so the portable path gives
// the same bits as the SIMD one; the bf16 path's portable twin follows the
// instruction's documented order and is tested within a bound.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/weights.h"

namespace talkie::ops {

// q8 / q4 matrices are read from an interleaved copy: output columns in
// blocks of 16 (the last block padded with zero weights). A block holds, for
// each group g of 32 along k in order, a code record laying out the 16
// columns' codes side by side for every 4 consecutive k (the operand of one
// VPDPBUSD), then all its groups' scales:
//   q8 record: 8 vectors of 64 bytes; byte 4c + t of vector v is code + 128
//       (0..255) of column c at k = 32g + 4v + t                 (512 bytes)
//   q4 record: 4 vectors of 64 bytes; byte 4c + t of vector p holds in its
//       low nibble the code (0..15) of column c at k = 32g + 8p + t and in
//       its high nibble the one at k = 32g + 8p + 4 + t          (256 bytes)
//   scales: per group, the 16 columns' f16 scales                (32 bytes)
// Same size as the row-major original.
int64_t PackedBytes(const WeightMatrix& w);
// Writes PackedBytes(w) bytes; w must be q8 or q4.
void PackForLowPrecision(const WeightMatrix& w, uint8_t* out);

// x: [m, w.cols] float32, y: [m, w.rows]. bf16 / q8 / q4 (with w.packed set
// for the quantized ones) and the ggml blocks Q4_K / Q5_0 / Q6_K (in place,
// matmul_lowp_ggml.cpp); other types fall back to the exact MatMul.
void MatMulLowPrecision(const float* x, int64_t m, const WeightMatrix& w, float* y);

// Which path MatMulLowPrecision takes on this CPU for this weight type:
// q8 / q4 "AVX512-VNNI", "AVX-VNNI", "AVX2" (x86-64), "NEON-I8MM",
// "NEON-DOTPROD", "NEON" (aarch64) or "portable"; bf16 "AVX512-BF16" or
// "portable"; Q4_K / Q5_0 / Q6_K (ggml blocks in place) the q8 / q4 path's
// x86 name or "portable"; other types "exact" (they run the exact kernel).
const char* LowPrecisionPath(WeightType type);

// Tests: run the int8 kernels on `path` (one of the q8 / q4 names above; the
// bf16 kernels then run portable unless path is "AVX512-VNNI"); "" restores
// the best this CPU has. Throws if the CPU cannot run that path.
void ForceLowPrecisionPath(const std::string& path);
// Throws as ForceLowPrecisionPath would, changing nothing.
void CheckLowPrecisionPath(const std::string& path);
// The q8 / q4 paths this build has and this CPU can run, best first
// ("portable" last).
std::vector<std::string> LowPrecisionPaths();

// The same choice for the calling thread only, for the scope's lifetime
// ("" = the best this CPU has); takes precedence over ForceLowPrecisionPath.
// The public API's Engine sets one around each call.
class ScopedLowPrecisionPath {
 public:
  explicit ScopedLowPrecisionPath(const std::string& path);
  ~ScopedLowPrecisionPath();
  ScopedLowPrecisionPath(const ScopedLowPrecisionPath&) = delete;
  ScopedLowPrecisionPath& operator=(const ScopedLowPrecisionPath&) = delete;

 private:
  bool saved_active_;
  const void* saved_int8_;
  bool saved_bf16_;
};

}  // namespace talkie::ops
