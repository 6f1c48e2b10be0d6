// The byte-pair merge loop, in a scan form and a heap form that make the
// same choices (lowest rank first, then the leftmost pair).
#include "tokenizer/bpe.h"

#include <limits>
#include <queue>

#include "common/error.h"

namespace talkie::tokenizer {
namespace {

constexpr int32_t kNone = std::numeric_limits<int32_t>::max();
constexpr size_t kScanLimit = 128;  // Longer pieces use the heap.

int32_t RankOrNone(const RankMap& ranks, const char* p, size_t n) {
  const int32_t r = ranks.Find(p, n);
  return r < 0 ? kNone : r;
}

int32_t RequireRank(const RankMap& ranks, const char* p, size_t n) {
  const int32_t r = ranks.Find(p, n);
  Check(r >= 0, "tokenizer: the vocabulary lacks a single-byte token");
  return r;
}

}  // namespace

void BytePairEncodeScan(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out) {
  const char* s = piece.data();
  const size_t n = piece.size();
  if (n == 0) return;
  if (n == 1) {
    out->push_back(RequireRank(ranks, s, 1));
    return;
  }
  // parts[i] = (start of part i, rank of part i merged with part i + 1).
  struct Part {
    size_t start;
    int32_t rank;
  };
  Part small[kScanLimit + 2];
  std::vector<Part> big;
  Part* parts = small;
  if (n + 1 > kScanLimit + 2) {
    big.resize(n + 1);
    parts = big.data();
  }
  size_t count = n + 1;
  for (size_t i = 0; i + 1 < n; ++i) parts[i] = {i, RankOrNone(ranks, s + i, 2)};
  parts[n - 1] = {n - 1, kNone};
  parts[n] = {n, kNone};
  // Rank of parts i and i + 1 merged (parts i + 2 must exist).
  auto pair_rank = [&](size_t i) {
    if (i + 2 >= count) return kNone;
    return RankOrNone(ranks, s + parts[i].start, parts[i + 2].start - parts[i].start);
  };
  while (count > 2) {
    int32_t best = kNone;
    size_t at = 0;
    for (size_t i = 0; i + 1 < count; ++i) {
      if (parts[i].rank < best) {
        best = parts[i].rank;
        at = i;
      }
    }
    if (best == kNone) break;
    // Part `at` absorbs part at + 1; its new pair rank looks one part further.
    for (size_t i = at + 1; i + 1 < count; ++i) parts[i] = parts[i + 1];
    --count;
    parts[at].rank = pair_rank(at);
    if (at > 0) parts[at - 1].rank = pair_rank(at - 1);
  }
  for (size_t i = 0; i + 1 < count; ++i) {
    out->push_back(RequireRank(ranks, s + parts[i].start, parts[i + 1].start - parts[i].start));
  }
}

void BytePairEncodeHeap(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out) {
  const char* s = piece.data();
  const size_t n = piece.size();
  if (n == 0) return;
  // Parts form a linked list over byte positions: part i spans [i, end[i]).
  std::vector<size_t> end(n), next(n), prev(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    end[i] = i + 1;
    next[i] = i + 1;  // n means none.
    prev[i] = i - 1;  // Wraps for i = 0; only read when i > 0.
  }
  struct Candidate {
    int32_t rank;
    size_t left;
    size_t mid;    // end of the left part when queued
    size_t right;  // end of the right part when queued
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](size_t left) {
    const size_t right = next[left];
    if (right >= n) return;
    const int32_t r = ranks.Find(s + left, end[right] - left);
    if (r >= 0) heap.push({r, left, end[left], end[right]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    // Stale if either part changed since the candidate was queued.
    if (!alive[c.left] || end[c.left] != c.mid || next[c.left] >= n ||
        end[next[c.left]] != c.right) {
      continue;
    }
    const size_t right = next[c.left];
    end[c.left] = end[right];
    alive[right] = false;
    next[c.left] = next[right];
    if (next[right] < n) prev[next[right]] = c.left;
    if (c.left > 0) push(prev[c.left]);
    push(c.left);
  }
  for (size_t i = 0; i < n; i = next[i]) out->push_back(RequireRank(ranks, s + i, end[i] - i));
}

void BytePairEncode(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out) {
  if (piece.size() <= kScanLimit) {
    BytePairEncodeScan(piece, ranks, out);
  } else {
    BytePairEncodeHeap(piece, ranks, out);
  }
}

}  // namespace talkie::tokenizer
