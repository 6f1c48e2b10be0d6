// Byte-pair merge: the scan and heap strategies make identical choices, and
// long pieces stay fast.
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"

namespace talkie::tokenizer {
namespace {

const Tokenizer& Fixture() {
  static const Tokenizer* t = new Tokenizer(Tokenizer::FromVocabTxt(
      std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/vocab.txt", Style::kBase));
  return *t;
}

// A small vocabulary with ties and overlapping merges.
RankMap SmallRanks() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const char* t : {"ab", "bc", "abc", "aa", "aaa", "ca", "cab", "bca", "aaaa"}) {
    tokens.push_back(t);
  }
  return RankMap(tokens);
}

TEST(Bpe, ScanAndHeapAgreeOnRandomPieces) {
  const RankMap small = SmallRanks();
  std::mt19937 rng(99);
  for (int i = 0; i < 5000; ++i) {
    std::string piece;
    const size_t n = 1 + rng() % 40;
    for (size_t k = 0; k < n; ++k) piece.push_back("abc"[rng() % 3]);
    std::vector<int32_t> scan, heap;
    BytePairEncodeScan(piece, small, &scan);
    BytePairEncodeHeap(piece, small, &heap);
    ASSERT_EQ(scan, heap) << piece;
  }
}

TEST(Bpe, ScanAndHeapAgreeWithTheRealVocabulary) {
  std::mt19937 rng(5);
  const std::string letters = "etaoinshrdlu ";
  const Tokenizer& t = Fixture();
  for (int i = 0; i < 2000; ++i) {
    std::string piece;
    const size_t n = 2 + rng() % 200;
    for (size_t k = 0; k < n; ++k) piece.push_back(letters[rng() % letters.size()]);
    std::vector<int32_t> scan, heap;
    BytePairEncodeScan(piece, t.ranks(), &scan);
    BytePairEncodeHeap(piece, t.ranks(), &heap);
    ASSERT_EQ(scan, heap) << piece;
    EXPECT_EQ(t.Decode(scan), piece);
  }
}

TEST(Bpe, KnownMergeOrder) {
  const RankMap small = SmallRanks();
  std::vector<int32_t> out;
  // "ab" (256) beats "bc" (257); then "abc" (258).
  BytePairEncodeScan("abc", small, &out);
  EXPECT_EQ(out, (std::vector<int32_t>{258}));
  out.clear();
  // Ties go left: "aa" merges at 0 first, then "aa"+"a" -> "aaa".
  BytePairEncodeScan("aaa", small, &out);
  EXPECT_EQ(out, (std::vector<int32_t>{260}));
}

TEST(Bpe, PieceCacheIsPerTokenizer) {
  // Two vocabularies in one thread: the cached merge of one must never be
  // returned for the other.
  std::vector<std::string> bytes_only;
  for (int b = 0; b < 256; ++b) bytes_only.push_back(std::string(1, static_cast<char>(b)));
  const Tokenizer tiny(Vocab{bytes_only, {}}, {}, Style::kBase);
  const Tokenizer& big = Fixture();
  for (int round = 0; round < 3; ++round) {
    for (const char* word : {" xylophonist", " begat", "zzyzx"}) {
      std::vector<int32_t> a, b;
      big.EncodePiece(word, &a);
      tiny.EncodePiece(word, &b);
      EXPECT_LT(a.size(), b.size()) << word;
      EXPECT_EQ(b.size(), std::string(word).size());
      EXPECT_EQ(big.Decode(a), word);
      EXPECT_EQ(tiny.Decode(b), word);
    }
  }
}

TEST(Bpe, LongPiecesAreNotQuadratic) {
  const Tokenizer& t = Fixture();
  std::string text(1 << 20, 'x');  // One 1 MiB piece.
  const auto start = std::chrono::steady_clock::now();
  const auto ids = t.Encode(text, false);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(t.Decode(ids), text);
  EXPECT_LT(secs, 20.0);  // Generous: a quadratic merge would take hours.
}

}  // namespace
}  // namespace talkie::tokenizer
