// Softmax attention: one query head over the keys of one sequence
// (AttendOneQuery), and causal attention of a whole step's new rows over
// their sequences' caches (AttendCausal, attention_causal.cpp).
#pragma once

#include <cstdint>
#include <vector>

namespace talkie::ops {

// Element type of stored keys / values: float32 (exact policy) or bf16
// (fast policy: half the memory and half the attention traffic).
enum class KvType { kF32, kBF16 };

// One sequence's keys and values of one layer as stored: token j's key row at
// keys + j * stride elements of `type` (likewise values); head h's part starts
// at column h * head_dim.
struct KvView {
  KvType type = KvType::kF32;
  const void* keys = nullptr;
  const void* values = nullptr;
  int64_t stride = 0;
};

// q[head_dim]; key j at keys + j * stride, value j at values + j * stride.
// visible[j] != 0 for keys the query may see (mask and causality combined).
// Writes probs[kv_len] (exactly 0 for invisible keys; all 0 when none is
// visible) and out[head_dim]. scale multiplies q.k.
// Determinism: max, exp-sum and the weighted sum of values run over visible
// keys in key order only, so a key's presence elsewhere in the cache, padding,
// or how the keys were appended (chunking) cannot change a single bit.
// The SIMD kernel (attention_simd.cpp).
void AttendOneQuery(const float* q, const float* keys, const float* values, int64_t stride,
                    int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                    float* probs, float* out);

// The same over keys / values stored as bf16 (the fast policy's cache). bf16
// widens to float exactly, so this gives the bits AttendOneQuery gives on the
// widened keys and values.
void AttendOneQueryBf16(const float* q, const uint16_t* keys, const uint16_t* values,
                        int64_t stride, int64_t kv_len, int64_t head_dim, const uint8_t* visible,
                        float scale, float* probs, float* out);

// Four queries over the same keys and values (q[i], visible[i], probs[i],
// out[i] as for AttendOneQuery): each key row is read once for the four,
// and each query gets the bits AttendOneQuery(Bf16) gives it alone.
void AttendFourQueries(const float* const* q, const float* keys, const float* values,
                       int64_t stride, int64_t kv_len, int64_t head_dim,
                       const uint8_t* const* visible, float scale, float* const* probs,
                       float* const* out);
void AttendFourQueriesBf16(const float* const* q, const uint16_t* keys, const uint16_t* values,
                           int64_t stride, int64_t kv_len, int64_t head_dim,
                           const uint8_t* const* visible, float scale, float* const* probs,
                           float* const* out);

// out[head_dim] = sum over visible keys j, in key order, of probs[j] * value_j:
// the last phase of AttendOneQuery(Bf16) alone, for weights a hook patched.
// On the weights AttendOneQuery wrote it gives its `out` bit for bit.
void WeightValues(const float* probs, const float* values, int64_t stride, int64_t kv_len,
                  int64_t head_dim, const uint8_t* visible, float* out);
void WeightValuesBf16(const float* probs, const uint16_t* values, int64_t stride, int64_t kv_len,
                      int64_t head_dim, const uint8_t* visible, float* out);

// The plain reference the SIMD kernel is tested against (float keys / values;
// its own loops, sharing nothing with the SIMD kernel).
void AttendOneQueryReference(const float* q, const float* keys, const float* values, int64_t stride,
                             int64_t kv_len, int64_t head_dim, const uint8_t* visible, float scale,
                             float* probs, float* out);

// One sequence's share of a step: its new rows of q / out, its cache view
// (new keys already stored), and which keys are real.
struct AttentionSequence {
  KvView kv;
  int64_t first_row = 0;  // of q / out
  int64_t q_len = 0;      // new rows, in cache slots past .. past + q_len - 1
  int64_t past = 0;
  int64_t kv_len = 0;             // past + q_len
  const uint8_t* mask = nullptr;  // [kv_len], 1 = real token
  float* probs = nullptr;         // optional [n_head, q_len, kv_len] softmax weights
};

// Per-thread buffers AttendCausal reuses from call to call.
struct AttentionScratch {
  std::vector<uint8_t> visible;
  std::vector<float> probs;
  std::vector<int64_t> task_begin;
};

// Causal softmax attention of every new row and head: the query in slot
// past + t sees the real keys in slots <= past + t. q and out are
// [rows, n_head * head_dim]; scale = 1 / sqrt(head_dim). One task per
// (sequence, head, block of up to four queries) over the threads; each
// query's result depends only on its own inputs, so neither the blocking
// nor the split changes a bit.
void AttendCausal(const float* q, int64_t n_head, int64_t head_dim,
                  const std::vector<AttentionSequence>& seqs, AttentionScratch& scratch,
                  float* out);

// Recomputes the out rows of every sequence that has .probs from those
// weights (as AttendCausal would from its own), after a hook patched them.
void WeightCausal(int64_t n_head, int64_t head_dim, const std::vector<AttentionSequence>& seqs,
                  AttentionScratch& scratch, float* out);

}  // namespace talkie::ops
