// Byte-pair merge of one pre-tokenized piece, exactly as tiktoken does it:
// repeatedly merge the adjacent pair whose concatenated bytes have the
// lowest rank (leftmost pair on ties), then emit the rank of each part.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/rank_map.h"

namespace talkie::tokenizer {

// Appends the ranks of `piece` to *out. Every single byte must be a token
// (the loaders check this), so the merge always succeeds.
void BytePairEncode(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out);

// The two strategies BytePairEncode chooses between, exposed for tests:
// a linear rescan per merge (fast for short pieces) and a priority queue
// (O(n log n), so long pieces cannot make encoding quadratic).
void BytePairEncodeScan(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out);
void BytePairEncodeHeap(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out);

}  // namespace talkie::tokenizer
