// A small per-thread, direct-mapped cache of byte-pair-merge results for
// short pieces that are not whole tokens. Prose repeats such words (archaic
// or inflected forms), and a hit skips the merge loop entirely. Entries are
// tagged with the owning tokenizer's unique id, so tokenizers never see
// each other's results; being thread-local it needs no locking.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace talkie::tokenizer {

class PieceCache {
 public:
  static constexpr size_t kMaxBytes = 23;
  static constexpr size_t kMaxIds = 6;

  // The calling thread's cache.
  static PieceCache& ForThread() {
    thread_local PieceCache cache;
    return cache;
  }

  // Appends the cached ids of `piece` for tokenizer `owner`; false on a miss.
  bool Lookup(uint64_t owner, uint64_t hash, std::string_view piece,
              std::vector<int32_t>* out) const {
    const Entry& e = entries_[hash & (kEntries - 1)];
    if (e.owner != owner || e.len != piece.size() ||
        std::memcmp(e.bytes, piece.data(), piece.size()) != 0) {
      return false;
    }
    out->insert(out->end(), e.ids, e.ids + e.n_ids);
    return true;
  }

  // Remembers ids for `piece` if both fit in an entry.
  void Store(uint64_t owner, uint64_t hash, std::string_view piece, const int32_t* ids,
             size_t n_ids) {
    if (piece.size() > kMaxBytes || n_ids > kMaxIds) return;
    Entry& e = entries_[hash & (kEntries - 1)];
    e.owner = owner;
    e.len = static_cast<uint8_t>(piece.size());
    e.n_ids = static_cast<uint8_t>(n_ids);
    std::memcpy(e.bytes, piece.data(), piece.size());
    std::memcpy(e.ids, ids, n_ids * sizeof(int32_t));
  }

 private:
  static constexpr size_t kEntries = 4096;
  struct Entry {
    uint64_t owner = 0;  // 0: empty (tokenizer ids start at 1).
    uint8_t len = 0;
    uint8_t n_ids = 0;
    char bytes[kMaxBytes];
    int32_t ids[kMaxIds];
  };
  Entry entries_[kEntries];
};

}  // namespace talkie::tokenizer
