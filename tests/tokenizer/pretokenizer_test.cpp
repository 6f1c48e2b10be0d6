// The hand-written pre-tokenizer against the README's documented splits and
// against PCRE2 running the same regex, on the fixtures and random strings.
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tokenizer/pcre2_pretokenizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace {

using Pieces = std::vector<std::string_view>;

std::vector<std::string> Strings(const Pieces& p) { return {p.begin(), p.end()}; }

TEST(Pretokenizer, ReadmeExamples) {
  const Pretokenizer pre;
  using V = std::vector<std::string>;
  EXPECT_EQ(Strings(pre.Split("abc  def")), (V{"abc", " ", " def"}));
  EXPECT_EQ(Strings(pre.Split("abc  ")), (V{"abc", "  "}));
  EXPECT_EQ(Strings(pre.Split("He'S here")), (V{"He'S", " here"}));
  EXPECT_EQ(Strings(pre.Split("DON'T")), (V{"DON'T"}));
  EXPECT_EQ(Strings(pre.Split("it'\u017F")), (V{"it'\u017F"}));
  EXPECT_EQ(Strings(pre.Split("it\u2019s")), (V{"it", "\u2019s"}));
  EXPECT_EQ(Strings(pre.Split("12345678")), (V{"123", "456", "78"}));
  EXPECT_EQ(Strings(pre.Split("  \n\n  xyz")), (V{"  \n\n", " ", " xyz"}));
  EXPECT_EQ(Strings(pre.Split("a\u0085b")), (V{"a", "\u0085b"}));
  EXPECT_EQ(Strings(pre.Split("a \u0085 b")), (V{"a", " \u0085", " b"}));
  EXPECT_EQ(Strings(pre.Split("a\uFEFFb")), (V{"a", "\uFEFFb"}));
  EXPECT_EQ(Strings(pre.Split(" \uFEFF")), (V{" \uFEFF"}));
  EXPECT_EQ(Strings(pre.Split("\u2764\uFE0F")), (V{"\u2764\uFE0F"}));
  EXPECT_EQ(Strings(pre.Split("path/to\r\n")), (V{"path", "/to", "\r\n"}));
  EXPECT_EQ(Strings(pre.Split("x ...//\n")), (V{"x", " ...//\n"}));
}

TEST(Pretokenizer, Pcre2HonoursWhiteSpaceAndCaseFolding) {
  const Pcre2Pretokenizer pcre;
  using V = std::vector<std::string>;
  EXPECT_EQ(Strings(pcre.Split("it'\u017F")), (V{"it'\u017F"}));
  EXPECT_EQ(Strings(pcre.Split("a \u0085 b")), (V{"a", " \u0085", " b"}));
  EXPECT_EQ(Strings(pcre.Split(" \uFEFF")), (V{" \uFEFF"}));
  EXPECT_EQ(Strings(pcre.Split("a \u180E")), (V{"a", " \u180E"}));  // Not White_Space.
}

TEST(Pretokenizer, AgreesWithPcre2OnFixtureTexts) {
  const Pretokenizer pre;
  const Pcre2Pretokenizer pcre;
  std::ifstream in(std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/cases.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const std::string text = nlohmann::json::parse(line)["text"].get<std::string>();
    EXPECT_EQ(Strings(pre.Split(text)), Strings(pcre.Split(text))) << nlohmann::json(text).dump();
    ++n;
  }
  EXPECT_EQ(n, 691);
}

// Random valid UTF-8 biased toward the characters the regex cares about.
std::string RandomText(std::mt19937& rng, size_t max_chars) {
  static const std::vector<uint32_t> interesting = {
      ' ',    ' ',    ' ',      '\n',   '\r',    '\t',   '\'',   '\'',   's',    'S',
      't',    'r',    'e',      'l',    'L',     'v',    'm',    'd',    'D',    '/',
      '.',    ',',    '!',      '<',    '|',     '>',    '0',    '7',    0x17F,  0x2019,
      0x85,   0xA0,   0x1680,   0x2000, 0x2028,  0x202F, 0x3000, 0xFEFF, 0x200B, 0x180E,
      0x0301, 0x0308, 0xFE0F,   0x2764, 0x1F600, 0x4E2D, 0x00E9, 0x00C9, 0x01C5, 0x02B0,
      0x05D0, 0x0660, 0xFF11,   0x00B2, 0x2163,  0x2460, 0x0391, 0x03B1, 0x0416, 0x0436,
      0xE000, 0xFFFF, 0x10FFFF, 0x0000, 0x001F,  0x007F, 0x009F, 0x3042, 0x30A2, 0xAC00};
  std::string out;
  const size_t n = rng() % (max_chars + 1);
  for (size_t i = 0; i < n; ++i) {
    uint32_t cp;
    switch (rng() % 4) {
      case 0:
        cp = 0x20 + rng() % 0x5F;  // Printable ASCII.
        break;
      case 1:
      case 2:
        cp = interesting[rng() % interesting.size()];
        break;
      default:
        do {
          cp = rng() % 0x110000;
        } while (cp >= 0xD800 && cp < 0xE000);
    }
    AppendUtf8(cp, &out);
  }
  return out;
}

TEST(Pretokenizer, AgreesWithPcre2OnRandomStrings) {
  const Pretokenizer pre;
  const Pcre2Pretokenizer pcre;
  std::mt19937 rng(20240601);
  for (int i = 0; i < 20000; ++i) {
    const std::string text = RandomText(rng, 40);
    ASSERT_EQ(Strings(pre.Split(text)), Strings(pcre.Split(text))) << nlohmann::json(text).dump();
  }
}

TEST(Pretokenizer, PiecesTileTheText) {
  const Pretokenizer pre;
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const std::string text = RandomText(rng, 60);
    std::string joined;
    for (std::string_view p : pre.Split(text)) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text);
  }
}

}  // namespace
}  // namespace talkie::tokenizer
