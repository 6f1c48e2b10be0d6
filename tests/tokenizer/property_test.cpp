// Property tests on random UTF-8 (fixed seeds): decode(encode(x)) == x, and
// encoding splits at pre-token boundaries.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace {

const Tokenizer& It() {
  static const Tokenizer* t = new Tokenizer(Tokenizer::FromVocabTxt(
      std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/vocab.txt", Style::kIt));
  return *t;
}

std::string RandomUtf8(std::mt19937& rng, size_t max_chars) {
  static const std::vector<std::string> fragments = {" ",          "  ",           "\n",
                                                     "\r\n",       "\t",           "'s",
                                                     "'LL",        "'\u017F",      "<|end|>",
                                                     "<|user|>",   "<|",           "|>",
                                                     "the",        " The",         "123",
                                                     "\u00A0",     "\u3000",       "\u0085",
                                                     "\uFEFF",     "\u0301",       "\u2764\uFE0F",
                                                     "\U0001F600", "\u4E2D\u6587", "\u00E9t\u00E9",
                                                     "...",        "//",           "$",
                                                     "0.5"};
  std::string out;
  const size_t n = rng() % (max_chars + 1);
  for (size_t i = 0; i < n; ++i) {
    switch (rng() % 3) {
      case 0:
        out += fragments[rng() % fragments.size()];
        break;
      case 1:
        out += static_cast<char>(0x20 + rng() % 0x5F);
        break;
      default: {
        uint32_t cp;
        do {
          cp = rng() % 0x110000;
        } while (cp >= 0xD800 && cp < 0xE000);
        AppendUtf8(cp, &out);
      }
    }
  }
  return out;
}

TEST(Property, RoundTripOnRandomUtf8) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 5000; ++i) {
    const std::string text = RandomUtf8(rng, 30);
    for (bool allow : {false, true}) {
      ASSERT_EQ(It().Decode(It().Encode(text, allow)), text) << nlohmann::json(text).dump();
    }
  }
}

TEST(Property, ConcatenationAtPieceBoundary) {
  // A cut between two pieces of x + y is a pre-token boundary when x and y
  // pre-tokenize on their own into exactly those pieces; the encoding must
  // then split there too. (Not every piece boundary qualifies: "\t\t`" is
  // "\t", "\t", "`" because \s+(?!\S) gives back a tab before "`", but "\t\t"
  // alone is one piece -- the same in tiktoken.)
  std::mt19937 rng(777);
  const Pretokenizer& pre = It().pretokenizer();
  int checked = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string text = RandomUtf8(rng, 30);
    const auto pieces = pre.Split(text);
    if (pieces.size() < 2) continue;
    const size_t k = 1 + rng() % (pieces.size() - 1);
    const size_t cut = pieces[k].data() - text.data();
    const std::string a = text.substr(0, cut), b = text.substr(cut);
    std::vector<std::string> joined_pieces;
    for (auto p : pre.Split(a)) joined_pieces.emplace_back(p);
    for (auto p : pre.Split(b)) joined_pieces.emplace_back(p);
    if (joined_pieces != std::vector<std::string>(pieces.begin(), pieces.end())) continue;
    ++checked;
    auto whole = It().Encode(text, false);
    auto left = It().Encode(a, false);
    const auto right = It().Encode(b, false);
    left.insert(left.end(), right.begin(), right.end());
    ASSERT_EQ(whole, left) << nlohmann::json(a).dump() << " + " << nlohmann::json(b).dump();
  }
  EXPECT_GT(checked, 2000);
}

TEST(Property, WhitespaceBoundaryIsNotStable) {
  // The documented exception above, pinned down.
  EXPECT_NE(It().Encode("\t\t`", false).size(), 0u);
  auto left = It().Encode("\t\t", false);
  const auto right = It().Encode("`", false);
  left.insert(left.end(), right.begin(), right.end());
  EXPECT_NE(It().Encode("\t\t`", false), left);
}

TEST(Property, SpecialTokensSplitTheText) {
  // With specials allowed, x<|end|>y encodes as enc(x), <|end|>, enc(y).
  std::mt19937 rng(4242);
  const int32_t end = *It().SpecialTokenId("<|end|>");
  for (int i = 0; i < 1000; ++i) {
    std::string x = RandomUtf8(rng, 10), y = RandomUtf8(rng, 10);
    if (x.find("<|") != std::string::npos || y.find("<|") != std::string::npos ||
        (!x.empty() && x.back() == '<') || (!y.empty() && y.front() == '|')) {
      continue;
    }
    auto want = It().Encode(x, true);
    want.push_back(end);
    const auto tail = It().Encode(y, true);
    want.insert(want.end(), tail.begin(), tail.end());
    ASSERT_EQ(It().Encode(x + "<|end|>" + y, true), want);
  }
}

}  // namespace
}  // namespace talkie::tokenizer
