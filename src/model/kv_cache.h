// Per-layer key/value cache for a batch of sequences (spec §5): K is stored
// after RoPE and its rms-norm, V as computed. Slot j of every row holds the
// token fed at step j (left padding occupies slots like any token and is
// hidden by the attention mask).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "ops/attention.h"
#include "ops/weights.h"

namespace talkie::model {

// Element type of the stored keys / values (ops::KvType: float32 for the
// exact policy, bf16 for the fast one).
using KvType = ops::KvType;
// The element type a precision policy stores (float32 exact, bf16 fast).
inline KvType KvTypeFor(ops::Precision precision) {
  return precision == ops::Precision::kFast ? KvType::kBF16 : KvType::kF32;
}

// Throws the "context full" error when `cached` + `extra` tokens exceed
// `limit`; `who` prefixes the message (e.g. "sequence 2: ").
void CheckContextRoom(int64_t cached, int64_t extra, int64_t limit, const std::string& who = "");

class KvCache {
 public:
  KvCache() = default;
  // capacity: most tokens a row may hold; 0 = max_position_embeddings.
  KvCache(const ModelConfig& config, int64_t batch, int64_t capacity = 0);

  int64_t batch() const { return batch_; }
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t n_embd() const { return n_embd_; }
  KvType type() const { return type_; }
  // Bytes allocated for keys and values (every layer and row, both element
  // types): what the cache holds in memory, at least the length's worth.
  int64_t bytes() const;

  // Chooses the element type; only while the cache is empty (Forward sets it
  // from the model's precision policy).
  void SetType(KvType type);

  // Drops everything after the first n tokens (rollback / re-feed).
  void Truncate(int64_t n);
  void Clear() { Truncate(0); }
  // A new cache whose row i is a copy of this cache's row rows[i] (e.g. {0, 0, 0}:
  // three continuations of one prefix).
  KvCache SelectRows(const std::vector<int64_t>& rows) const;
  // A new cache holding a copy of only the first n tokens (a shared prefix).
  KvCache Prefix(int64_t n) const;
  // Gives back allocated room beyond the length (a cache kept for later).
  void ShrinkToFit();

  // Makes room for `extra` more tokens; throws past the capacity.
  void Grow(int64_t extra);

  // Stores n tokens' keys and values (rows of n_embd floats) of one layer
  // and row at slots [slot, slot + n), in the cache's element type (a bf16
  // cache rounds each element to nearest-even). The slots must have been
  // made by Grow.
  void Write(int64_t layer, int64_t row, int64_t slot, int64_t n, const float* k, const float* v);

  // The keys / values of one layer and row, as attention reads them.
  ops::KvView View(int64_t layer, int64_t row) const;

  // Raw float storage (kF32), for tests and benchmarks that fill a cache.
  float* keys(int64_t layer, int64_t row) { return k_[Slot(layer, row)].data(); }
  float* values(int64_t layer, int64_t row) { return v_[Slot(layer, row)].data(); }
  const float* keys(int64_t layer, int64_t row) const { return k_[Slot(layer, row)].data(); }
  const float* values(int64_t layer, int64_t row) const { return v_[Slot(layer, row)].data(); }

 private:
  size_t Slot(int64_t layer, int64_t row) const {
    return static_cast<size_t>(layer * batch_ + row);
  }

  // Sizes every row of the active storage for n tokens.
  void Resize(int64_t n);

  int64_t batch_ = 0, n_layer_ = 0, n_embd_ = 0, capacity_ = 0, length_ = 0;
  KvType type_ = KvType::kF32;
  // [layer * batch + row] -> [pos, n_embd]; only the set of type_ is used.
  std::vector<std::vector<float>> k_, v_;
  std::vector<std::vector<uint16_t>> k16_, v16_;
};

}  // namespace talkie::model
