// The KV caches of finished sequences, kept so that a later prompt starting
// with the same tokens skips re-feeding them: a chat's next turn, a server
// request that continues a conversation or shares a long system prompt.
//
// Exactness: a sequence resumed from a cached prefix of k tokens feeds the
// rest of its prompt on top of it; by the contract's chunking invariance its
// logits, and so its tokens, are bit-identical to prefilling the whole
// prompt. A cache is only reused under the key it was made with (the hook
// set that ran over it: steering changes the keys and values) and with the
// same element type (precision policy).
//
// Memory: at most `max_bytes` of caches and `max_entries` entries; the least
// recently used go first. Not thread-safe (one owner: the chat loop, the
// server's scheduler thread).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <vector>

#include "model/kv_cache.h"

namespace talkie::generate {

class PrefixCache {
 public:
  explicit PrefixCache(int64_t max_bytes, int64_t max_entries = 64);

  struct Hit {
    model::KvCache cache;  // holds the first `tokens` tokens of the prompt
    int64_t tokens = 0;    // 0: nothing reusable
  };
  // The longest held prefix of `prompt`, at most prompt.size() - 1 tokens
  // (the last prompt token must still be fed to give the next logits). An
  // entry wholly covered by the prompt is handed over (the sequence will
  // bring back a longer one); a partly matching one is copied and kept.
  Hit Lookup(std::span<const int32_t> prompt, const std::shared_ptr<const void>& key,
             model::KvType type);

  // Keeps `cache` (batch 1), which holds exactly `tokens`, under `key`; the
  // entry keeps `key` alive, so its address cannot be reused by another
  // hook set. Entries that are prefixes of the new one are dropped; a new
  // one that is a prefix of a held entry adds nothing.
  void Insert(std::vector<int32_t> tokens, model::KvCache cache, std::shared_ptr<const void> key);

  void Clear() { entries_.clear(); }
  int64_t bytes() const;
  int64_t entries() const { return static_cast<int64_t>(entries_.size()); }
  int64_t max_bytes() const { return max_bytes_; }

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    model::KvCache cache;
    std::shared_ptr<const void> key;
    int64_t bytes = 0;
  };
  void EvictToBudget();

  const int64_t max_bytes_, max_entries_;
  std::list<Entry> entries_;  // most recently used first
};

}  // namespace talkie::generate
