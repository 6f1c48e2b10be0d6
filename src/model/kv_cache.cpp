// KvCache storage management.
#include "model/kv_cache.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "common/error.h"
#include "common/number_formats.h"

namespace talkie::model {

void CheckContextRoom(int64_t cached, int64_t extra, int64_t limit, const std::string& who) {
  if (cached + extra > limit)
    throw Error(who + "context full: " + std::to_string(cached) + " cached + " +
                std::to_string(extra) + " new tokens exceed the context limit of " +
                std::to_string(limit));
}

KvCache::KvCache(const ModelConfig& config, int64_t batch, int64_t capacity)
    : batch_(batch),
      n_layer_(config.n_layer),
      n_embd_(config.n_embd),
      capacity_(capacity > 0 ? capacity : config.max_position_embeddings) {
  Check(batch > 0, "kv cache: batch size must be positive, got " + std::to_string(batch));
  Check(capacity_ <= config.max_position_embeddings,
        "kv cache: capacity " + std::to_string(capacity_) + " exceeds max_position_embeddings " +
            std::to_string(config.max_position_embeddings));
  k_.resize(static_cast<size_t>(n_layer_ * batch_));
  v_.resize(k_.size());
  k16_.resize(k_.size());
  v16_.resize(k_.size());
}

void KvCache::SetType(KvType type) {
  if (type == type_) return;
  Check(length_ == 0, "kv cache: holds " + std::to_string(length_) +
                          " tokens of the other element type (filled under the other precision "
                          "policy); clear it first");
  type_ = type;
}

int64_t KvCache::bytes() const {
  size_t total = 0;
  for (size_t s = 0; s < k_.size(); ++s)
    total += (k_[s].capacity() + v_[s].capacity()) * sizeof(float) +
             (k16_[s].capacity() + v16_[s].capacity()) * sizeof(uint16_t);
  return static_cast<int64_t>(total);
}

void KvCache::Resize(int64_t n) {
  const auto size = static_cast<size_t>(n * n_embd_);
  if (type_ == KvType::kF32) {
    for (auto& k : k_) k.resize(size);
    for (auto& v : v_) v.resize(size);
  } else {
    for (auto& k : k16_) k.resize(size);
    for (auto& v : v16_) v.resize(size);
  }
}

void KvCache::Truncate(int64_t n) {
  Check(n >= 0 && n <= length_, "kv cache: cannot truncate to " + std::to_string(n) +
                                    " tokens, it holds " + std::to_string(length_));
  length_ = n;
  Resize(n);
}

void KvCache::Grow(int64_t extra) {
  Check(extra >= 0, "kv cache: negative growth");
  CheckContextRoom(length_, extra, capacity_);
  length_ += extra;
  Resize(length_);
}

void KvCache::Write(int64_t layer, int64_t row, int64_t slot, int64_t n, const float* k,
                    const float* v) {
  Check(slot >= 0 && slot + n <= length_, "kv cache: write past its length");
  const size_t at = static_cast<size_t>(slot * n_embd_), count = static_cast<size_t>(n * n_embd_);
  const size_t s = Slot(layer, row);
  if (type_ == KvType::kF32) {
    std::copy_n(k, count, k_[s].data() + at);
    std::copy_n(v, count, v_[s].data() + at);
    return;
  }
  uint16_t* kc = k16_[s].data() + at;
  uint16_t* vc = v16_[s].data() + at;
  for (size_t i = 0; i < count; ++i) {
    kc[i] = FloatToBf16(k[i]);
    vc[i] = FloatToBf16(v[i]);
  }
}

ops::KvView KvCache::View(int64_t layer, int64_t row) const {
  const size_t s = Slot(layer, row);
  if (type_ == KvType::kF32) return {type_, k_[s].data(), v_[s].data(), n_embd_};
  return {type_, k16_[s].data(), v16_[s].data(), n_embd_};
}

KvCache KvCache::SelectRows(const std::vector<int64_t>& rows) const {
  Check(!rows.empty(), "kv cache: SelectRows needs at least one row");
  KvCache out;
  out.batch_ = static_cast<int64_t>(rows.size());
  out.n_layer_ = n_layer_;
  out.n_embd_ = n_embd_;
  out.capacity_ = capacity_;
  out.length_ = length_;
  out.type_ = type_;
  out.k_.resize(static_cast<size_t>(n_layer_ * out.batch_));
  out.v_.resize(out.k_.size());
  out.k16_.resize(out.k_.size());
  out.v16_.resize(out.k_.size());
  for (int64_t l = 0; l < n_layer_; ++l) {
    for (size_t i = 0; i < rows.size(); ++i) {
      Check(rows[i] >= 0 && rows[i] < batch_, "kv cache: row " + std::to_string(rows[i]) +
                                                  " out of range for batch " +
                                                  std::to_string(batch_));
      const size_t to = out.Slot(l, static_cast<int64_t>(i)), from = Slot(l, rows[i]);
      out.k_[to] = k_[from];
      out.v_[to] = v_[from];
      out.k16_[to] = k16_[from];
      out.v16_[to] = v16_[from];
    }
  }
  return out;
}

KvCache KvCache::Prefix(int64_t n) const {
  Check(n >= 0 && n <= length_, "kv cache: cannot take a prefix of " + std::to_string(n) +
                                    " tokens, it holds " + std::to_string(length_));
  KvCache out;
  out.batch_ = batch_;
  out.n_layer_ = n_layer_;
  out.n_embd_ = n_embd_;
  out.capacity_ = capacity_;
  out.length_ = n;
  out.type_ = type_;
  const auto size = static_cast<size_t>(n * n_embd_);
  auto head = [size](const auto& all) {
    std::vector<std::decay_t<decltype(all[0])>> out_all(all.size());
    for (size_t s = 0; s < all.size(); ++s)
      if (!all[s].empty()) out_all[s].assign(all[s].begin(), all[s].begin() + size);
    return out_all;
  };
  out.k_ = head(k_);
  out.v_ = head(v_);
  out.k16_ = head(k16_);
  out.v16_ = head(v16_);
  return out;
}

void KvCache::ShrinkToFit() {
  for (auto* all : {&k_, &v_})
    for (auto& s : *all) s.shrink_to_fit();
  for (auto* all : {&k16_, &v16_})
    for (auto& s : *all) s.shrink_to_fit();
}

}  // namespace talkie::model
