// Construction of the RankMap hash table.
#include "tokenizer/rank_map.h"

namespace talkie::tokenizer {

RankMap::RankMap(const std::vector<std::string>& tokens) {
  size_t count = 0;
  offset_.resize(tokens.size(), 0);
  len_.resize(tokens.size(), 0);
  for (size_t r = 0; r < tokens.size(); ++r) {
    offset_[r] = static_cast<uint32_t>(arena_.size());
    len_[r] = static_cast<uint32_t>(tokens[r].size());
    arena_ += tokens[r];
    if (!tokens[r].empty()) ++count;
  }
  // Load factor at most 1/2 keeps probe chains short.
  size_t capacity = 16;
  while (capacity < 2 * count) capacity *= 2;
  slots_.assign(capacity, Slot{0, 0, -1, 0, 0});
  mask_ = capacity - 1;
  for (size_t r = 0; r < tokens.size(); ++r) {
    if (tokens[r].empty()) continue;
    const char* p = tokens[r].data();
    const size_t n = tokens[r].size();
    const uint64_t head = Head(p, n);
    const uint64_t h = Hash(head, p, n);
    size_t i = h & mask_;
    while (slots_[i].rank >= 0) i = (i + 1) & mask_;
    slots_[i] =
        Slot{head, static_cast<uint32_t>(h >> 32), static_cast<int32_t>(r), offset_[r], len_[r]};
  }
}

}  // namespace talkie::tokenizer
