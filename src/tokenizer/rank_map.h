// RankMap: the BPE vocabulary as an open-addressing hash table from token
// bytes to rank, plus rank -> bytes for decoding. Token bytes live in one
// arena so lookups touch little memory; this is the encoder's hot path.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace talkie::tokenizer {

class RankMap {
 public:
  RankMap() = default;
  // tokens[rank] holds the bytes of that rank; an empty string marks an
  // unused rank. Tokens must be distinct.
  explicit RankMap(const std::vector<std::string>& tokens);

  // Rank of the byte string [p, p + n), or -1 when it is not a token.
  int32_t Find(const char* p, size_t n) const {
    if (slots_.empty()) return -1;
    const uint64_t head = Head(p, n);
    const uint64_t h = Hash(head, p, n);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.rank < 0) return -1;
      // Slots keep the first eight bytes, so most hits (tokens of at most
      // eight bytes) never touch the arena.
      if (slot.tag == tag && slot.len == n && slot.head == head &&
          (n <= 8 || std::memcmp(arena_.data() + slot.offset + 8, p + 8, n - 8) == 0)) {
        return slot.rank;
      }
    }
  }
  int32_t Find(std::string_view s) const { return Find(s.data(), s.size()); }

  // Number of rank slots (highest rank + 1).
  int32_t size() const { return static_cast<int32_t>(len_.size()); }
  bool Has(int32_t rank) const { return rank >= 0 && rank < size() && len_[rank] != 0; }
  std::string_view Bytes(int32_t rank) const {
    return std::string_view(arena_.data() + offset_[rank], len_[rank]);
  }

  // The first min(n, 8) bytes, little-endian, zero-padded; loads of
  // fixed size (overlapping where n < 8) avoid a byte loop.
  static uint64_t Head(const char* p, size_t n) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    if (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      return w;
    }
    if (n >= 4) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      return lo | (static_cast<uint64_t>(hi) << (8 * (n - 4)));
    }
    if (n == 0) return 0;
    return u[0] | (static_cast<uint64_t>(u[n / 2]) << (8 * (n / 2))) |
           (static_cast<uint64_t>(u[n - 1]) << (8 * (n - 1)));
  }

  // Hash of the bytes given their Head; eight bytes per multiply.
  static uint64_t Hash(uint64_t head, const char* p, size_t n) {
    uint64_t h = (head ^ (n * 0xFF51AFD7ED558CCDULL)) * 0xBF58476D1CE4E5B9ULL;
    for (size_t i = 8; i < n; i += 8) {
      uint64_t w = 0;
      std::memcpy(&w, p + i, n - i >= 8 ? 8 : n - i);
      h = ((h ^ (h >> 29)) ^ w) * 0x94D049BB133111EBULL;
    }
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
  }

 private:
  struct Slot {
    uint64_t head;
    uint32_t tag;
    int32_t rank;  // -1: empty.
    uint32_t offset;
    uint32_t len;
  };
  std::string arena_;
  std::vector<uint32_t> offset_;
  std::vector<uint32_t> len_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace talkie::tokenizer
