// Softmax attention of one query head over the keys of one sequence.
#pragma once

#include <cstdint>

namespace talkie::ops {

// q[head_dim]; key j at keys + j * stride, value j at values + j * stride.
// visible[j] != 0 for keys the query may see (mask and causality combined).
// Writes probs[kv_len] (exactly 0 for invisible keys; all 0 when none is
// visible) and out[head_dim]. scale multiplies q.k.
// Determinism: max, exp-sum and the weighted sum of values run over visible
// keys in key order only, so a key's presence elsewhere in the cache, padding,
// or how the keys were appended (chunking) cannot change a single bit.
// The SIMD kernel (attention_fast.cpp).
void AttendOneQuery(const float* q, const float* keys, const float* values, int64_t stride,
                    int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                    float* probs, float* out);

// The same over keys / values stored as bf16 (the fast policy's cache). bf16
// widens to float exactly, so this gives the bits AttendOneQuery gives on the
// widened keys and values.
void AttendOneQueryBf16(const float* q, const uint16_t* keys, const uint16_t* values,
                        int64_t stride, int64_t kv_len, int64_t head_dim, const uint8_t* visible,
                        float scale, float* probs, float* out);

// The plain reference the fast kernel is tested against.
void AttendOneQueryReference(const float* q, const float* keys, const float* values, int64_t stride,
                             int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                             float* probs, float* out);

}  // namespace talkie::ops
