// The prefix cache's matching and eviction (see prefix_cache.h).
#include "generate/prefix_cache.h"

#include <algorithm>

#include "common/error.h"

namespace talkie::generate {
namespace {

int64_t CommonPrefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return static_cast<int64_t>(ia - a.begin());
}

}  // namespace

PrefixCache::PrefixCache(int64_t max_bytes, int64_t max_entries)
    : max_bytes_(max_bytes), max_entries_(max_entries) {
  Check(max_bytes >= 0, "prefix cache: max_bytes must be >= 0");
  Check(max_entries >= 0, "prefix cache: max_entries must be >= 0");
}

int64_t PrefixCache::bytes() const {
  int64_t total = 0;
  for (const Entry& e : entries_) total += e.bytes;
  return total;
}

PrefixCache::Hit PrefixCache::Lookup(std::span<const int32_t> prompt,
                                     const std::shared_ptr<const void>& key, model::KvType type) {
  const int64_t limit = static_cast<int64_t>(prompt.size()) - 1;
  auto best = entries_.end();
  int64_t best_len = 0;
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->key != key || it->cache.type() != type) continue;
    const int64_t len = std::min(CommonPrefix(prompt, it->tokens), limit);
    if (len > best_len) best = it, best_len = len;
  }
  Hit hit;
  if (best == entries_.end()) return hit;
  hit.tokens = best_len;
  if (best_len == static_cast<int64_t>(best->tokens.size())) {
    hit.cache = std::move(best->cache);
    entries_.erase(best);
  } else {
    hit.cache = best->cache.Prefix(best_len);
    entries_.splice(entries_.begin(), entries_, best);  // most recently used
  }
  return hit;
}

void PrefixCache::Insert(std::vector<int32_t> tokens, model::KvCache cache,
                         std::shared_ptr<const void> key) {
  Check(cache.batch() == 1 && cache.length() == static_cast<int64_t>(tokens.size()),
        "prefix cache: the cache must hold exactly the given tokens of one sequence");
  if (tokens.empty() || max_entries_ == 0) return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->key != key || it->cache.type() != cache.type()) {
      ++it;
      continue;
    }
    const int64_t common = CommonPrefix(tokens, it->tokens);
    if (common == static_cast<int64_t>(tokens.size())) {  // already held, whole
      entries_.splice(entries_.begin(), entries_, it);
      return;
    }
    if (common == static_cast<int64_t>(it->tokens.size()))
      it = entries_.erase(it);  // the new entry holds all of it
    else
      ++it;
  }
  const int64_t bytes = cache.bytes();
  if (bytes > max_bytes_) return;
  entries_.push_front({std::move(tokens), std::move(cache), std::move(key), bytes});
  EvictToBudget();
}

void PrefixCache::EvictToBudget() {
  int64_t total = bytes();
  while (!entries_.empty() &&
         (total > max_bytes_ || static_cast<int64_t>(entries_.size()) > max_entries_)) {
    total -= entries_.back().bytes;
    entries_.pop_back();
  }
}

}  // namespace talkie::generate
