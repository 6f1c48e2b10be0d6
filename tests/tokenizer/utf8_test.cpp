// UTF-8 validation and the WHATWG-style streaming decoder.
#include <string>

#include <gtest/gtest.h>

#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace {

TEST(Utf8, FindInvalid) {
  EXPECT_EQ(FindInvalidUtf8(""), kValidUtf8);
  EXPECT_EQ(FindInvalidUtf8("plain ascii text, long enough for the fast path"), kValidUtf8);
  EXPECT_EQ(FindInvalidUtf8("\u00e9\u4e2d\U0001F600\U0010FFFF\uFFFF"), kValidUtf8);
  EXPECT_EQ(FindInvalidUtf8("abcdefghij\x80"), 10u);
  EXPECT_EQ(FindInvalidUtf8("a\xC0\xAF"), 1u);         // Overlong.
  EXPECT_EQ(FindInvalidUtf8("ab\xED\xA0\x80"), 2u);    // Surrogate.
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // Above U+10FFFF.
  EXPECT_EQ(FindInvalidUtf8("xyz\xE2\x82"), 3u);       // Truncated.
  EXPECT_EQ(FindInvalidUtf8("\xE2\x82x"), 0u);
  EXPECT_EQ(FindInvalidUtf8("\xF8\x88\x80\x80\x80"), 0u);
}

std::string DecodeAll(const std::string& bytes) {
  Utf8StreamDecoder d;
  std::string out = d.Feed(bytes);
  return out + d.Flush();  // Flush strictly after Feed.
}

TEST(Utf8, MaximalSubpartsBecomeOneReplacementEach) {
  EXPECT_EQ(DecodeAll("a\x80z"), "a\uFFFDz");
  EXPECT_EQ(DecodeAll("\xE2\x82"), "\uFFFD");  // One truncated sequence.
  EXPECT_EQ(DecodeAll("\xE2\x82z"), "\uFFFDz");
  EXPECT_EQ(DecodeAll("\xC0\xAF"), "\uFFFD\uFFFD");  // C0 is never valid.
  EXPECT_EQ(DecodeAll("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(DecodeAll("\xF0\x9F\x98"), "\uFFFD");
  EXPECT_EQ(DecodeAll("\xF0\x9F\x98\x80"), "\U0001F600");
  EXPECT_EQ(DecodeAll("\xEF\xBB\xBF"
                      "x"),
            "\uFEFFx");  // BOM kept.
}

TEST(Utf8, StreamingEmitsCharactersWhenComplete) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.Feed("a\xF0\x9F"), "a");
  EXPECT_EQ(d.Feed("\x98"), "");
  EXPECT_EQ(d.Feed("\x80!"), "\U0001F600!");
  EXPECT_EQ(d.Feed("\xE4"), "");
  EXPECT_EQ(d.Flush(), "\uFFFD");
  EXPECT_EQ(d.Flush(), "");
}

}  // namespace
}  // namespace talkie::tokenizer
