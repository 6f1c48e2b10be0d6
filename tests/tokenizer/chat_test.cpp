// The IT chat template and the stop-marker filter.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "tokenizer/chat.h"
#include "tokenizer/stop_filter.h"
#include "tokenizer/tokenizer.h"

namespace talkie::tokenizer {
namespace {

const std::string kVocab = std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/vocab.txt";

const std::vector<ChatMessage> kMessages = {{Role::kSystem, "Be brief."},
                                            {Role::kUser, "Hi there"},
                                            {Role::kAssistant, "Hello."},
                                            {Role::kUser, "Say <|end|> please"}};

TEST(Chat, RendersTheTemplate) {
  EXPECT_EQ(RenderChat(kMessages),
            "<|system|>Be brief.<|end|><|user|>Hi there<|end|><|assistant|>Hello.<|end|>"
            "<|user|>Say <|end|> please<|end|><|assistant|>");
  EXPECT_EQ(RenderChat(std::vector<ChatMessage>{}), "<|assistant|>");
  EXPECT_EQ(RenderChat(std::vector<ChatMessage>{}, false), "");
  EXPECT_EQ(ParseRole("user"), Role::kUser);
  EXPECT_THROW(ParseRole("tool"), Error);
}

TEST(Chat, EncodesMarkersAsIdsAndContentAsText) {
  const Tokenizer it = Tokenizer::FromVocabTxt(kVocab, Style::kIt);
  const std::vector<ChatMessage> simple(kMessages.begin(), kMessages.begin() + 3);
  // Without marker text in the contents, this equals encoding the rendered
  // prompt with specials allowed.
  EXPECT_EQ(EncodeChat(it, simple), it.Encode(RenderChat(simple), true));
  const auto ids = EncodeChat(it, kMessages);
  EXPECT_EQ(ids.front(), 65539);  // <|system|>
  EXPECT_EQ(ids.back(), 65538);   // <|assistant|>
  int ends = 0;
  for (int32_t id : ids) ends += id == 65536;
  EXPECT_EQ(ends, 4);  // The <|end|> inside the last content stays text.
  EXPECT_EQ(it.Decode(ids), RenderChat(kMessages));
  const Tokenizer base = Tokenizer::FromVocabTxt(kVocab, Style::kBase);
  EXPECT_THROW(EncodeChat(base, kMessages), Error);
}

std::string RunFilter(StopFilter& f, const std::vector<std::string>& pieces,
                      std::vector<std::string>* emitted = nullptr) {
  std::string out;
  for (const std::string& p : pieces) {
    const std::string e = f.Push(p);
    if (emitted) emitted->push_back(e);
    out += e;
  }
  return out + f.Flush();
}

TEST(StopFilter, MarkerSplitAcrossPiecesNeverLeaks) {
  const std::string text = "The answer is 42.<|user|>ignored";
  // Every way of cutting the text into two and three pieces.
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      StopFilter f;
      std::vector<std::string> emitted;
      const std::string out =
          RunFilter(f, {text.substr(0, i), text.substr(i, j - i), text.substr(j)}, &emitted);
      EXPECT_EQ(out, "The answer is 42.");
      EXPECT_TRUE(f.stopped());
      EXPECT_EQ(f.matched(), "<|user|>");
      for (const std::string& e : emitted) EXPECT_EQ(e.find('<'), std::string::npos);
    }
  }
}

TEST(StopFilter, ReleasesSafeTextAtOnce) {
  StopFilter f;
  // No tail of this text can start a marker: nothing is held back.
  EXPECT_EQ(f.Push("Hello, world! This is safe"), "Hello, world! This is safe");
  EXPECT_EQ(f.Push(" text<|end|>more"), " text");
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.Push("after"), "");
  EXPECT_EQ(f.Flush(), "");
}

TEST(StopFilter, HoldsOnlyWhatCouldStartAStopString) {
  StopFilter f({"STOP"});
  EXPECT_EQ(f.Push("a <|us"), "a ");    // "<|us" may become "<|user|>"
  EXPECT_EQ(f.Push("ual"), "<|usual");  // it did not
  EXPECT_EQ(f.Push("xST"), "x");        // "ST" may become "STOP"
  EXPECT_EQ(f.Push("AR <"), "STAR ");
  EXPECT_EQ(f.Push("= 3"), "<= 3");
  EXPECT_EQ(f.Flush(), "");
}

TEST(StopFilter, FlushReleasesHeldText) {
  StopFilter f;
  EXPECT_EQ(f.Push("short <|"), "short ");
  EXPECT_EQ(f.Flush(), "<|");
  EXPECT_FALSE(f.stopped());
}

TEST(StopFilter, FirstOccurrenceWinsAndExtraStops) {
  StopFilter f({"STOP", ""});
  EXPECT_EQ(RunFilter(f, {"abc ST", "OP <|end|>"}), "abc ");
  EXPECT_EQ(f.matched(), "STOP");
  StopFilter g({"\u00e9t\u00e9"});
  EXPECT_EQ(RunFilter(g, {"un \u00e9", "t\u00e9 chaud"}), "un ");
}

TEST(StopFilter, HoldsWholeCharacters) {
  StopFilter f({"\u00e9t\u00e9"});
  std::string out;
  for (int i = 0; i < 20; ++i) {
    const std::string e = f.Push("\u4e2d");
    EXPECT_EQ(e, "\u4e2d");  // cannot start a stop string: released at once
    out += e;
  }
  // "\u00e9" (2 bytes) may start the stop string: held whole, then released.
  EXPECT_EQ(f.Push("\u00e9"), "");
  EXPECT_EQ(f.Push("x"), "\u00e9x");
  out += f.Flush();
  EXPECT_EQ(out.size(), 60u);
}

}  // namespace
}  // namespace talkie::tokenizer
