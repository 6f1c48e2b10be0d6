// ggml's block-quantized formats (llama.cpp's GGUF types Q4_1, Q5_0, Q5_1,
// Q4_K, Q5_K, Q6_K, IQ4_NL), read in place: a WeightMatrix of one of these
// types points at the file's row-major blocks, cols / elems blocks per row.
//
// Dequantization follows gguf-py's numpy dequantizers (gguf/quants.py) bit
// for bit: every value is computed with the same float32 operations in the
// same order (no fused multiply-add: the files that do this arithmetic are
// compiled with -ffp-contract=off), so the widened rows equal gguf-py's.
//   Q4_1   d*q + m        q in [0, 15]       32 per block, 20 bytes
//   Q5_0   d*(q - 16)     q in [0, 31]       32 per block, 22 bytes
//   Q5_1   d*q + m        q in [0, 31]       32 per block, 24 bytes
//   IQ4_NL d*kvalues[q]   q in [0, 15]       32 per block, 18 bytes
//   Q4_K   (d*sc)*q - (dmin*mn)  per 32      256 per block, 144 bytes
//   Q5_K   (d*sc)*q - (dmin*mn)  per 32      256 per block, 176 bytes
//   Q6_K   (d*sc)*(q - 32)       per 16      256 per block, 210 bytes
// (d, m, dmin: f16; sc, mn: 6-bit (K) or int8 (Q6_K) sub-block scales.)
#pragma once

#include <cstdint>
#include <string_view>

#include "ops/weights.h"

namespace talkie::ops {

struct GgmlBlockFormat {
  int64_t elems = 0;  // values per block
  int64_t bytes = 0;  // bytes per block
  const char* name = "";
};

inline constexpr WeightType kGgmlBlockTypes[] = {
    WeightType::kQ4_1, WeightType::kQ5_0, WeightType::kQ5_1, WeightType::kIQ4_NL,
    WeightType::kQ4_K, WeightType::kQ5_K, WeightType::kQ6_K};

// True for the ggml block types above.
bool IsGgmlBlockType(WeightType type);
// Block shape of a ggml block type (elems 0 for other types).
GgmlBlockFormat GgmlBlock(WeightType type);

// The ggml block type named `name` ("Q4_K", ...); false for any other name.
bool GgmlBlockTypeFromName(std::string_view name, WeightType* type);

// IQ4_NL's 16 non-linear levels.
inline constexpr int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) from the
// block's 12 packed scale bytes.
inline void GgmlK4ScaleMin(const uint8_t* s, int j, int* sc, int* mn) {
  if (j < 4) {
    *sc = s[j] & 63;
    *mn = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// The plain reference: one block of `type` into out[GgmlBlock(type).elems].
void DequantizeGgmlBlock(WeightType type, const uint8_t* block, float* out);

// Start of row r of a ggml block matrix.
inline const uint8_t* GgmlRow(const WeightMatrix& w, int64_t r) {
  const GgmlBlockFormat f = GgmlBlock(w.type);
  return static_cast<const uint8_t*>(w.data) + r * (w.cols / f.elems) * f.bytes;
}

}  // namespace talkie::ops
