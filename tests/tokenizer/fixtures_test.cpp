// The oracle: every case of cases.jsonl and decode_cases.jsonl (produced by
// the real tiktoken) must be reproduced byte for byte.
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace {

const std::string kDir = std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer";

std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

const Tokenizer& Base() {
  static const Tokenizer* t =
      new Tokenizer(Tokenizer::FromVocabTxt(kDir + "/vocab.txt", Style::kBase));
  return *t;
}
const Tokenizer& It() {
  static const Tokenizer* t =
      new Tokenizer(Tokenizer::FromVocabTxt(kDir + "/vocab.txt", Style::kIt));
  return *t;
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(Fixtures, EveryEncodeCaseMatches) {
  const auto cases = ReadJsonl(kDir + "/cases.jsonl");
  ASSERT_EQ(cases.size(), 691u);
  int mismatches = 0;
  for (const auto& c : cases) {
    const std::string text = c["text"].get<std::string>();
    const auto base = Base().Encode(text, /*allow_special=*/true);
    const auto it = It().Encode(text, /*allow_special=*/true);
    const auto want_base = c["ids_base"].get<std::vector<int32_t>>();
    const auto want_it = c["ids_it"].get<std::vector<int32_t>>();
    if (base != want_base || it != want_it) ++mismatches;
    EXPECT_EQ(base, want_base) << c["tag"] << ": " << c["text"].dump();
    EXPECT_EQ(it, want_it) << c["tag"] << ": " << c["text"].dump();
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(Fixtures, RoundTripOnEveryCase) {
  for (const auto& c : ReadJsonl(kDir + "/cases.jsonl")) {
    const std::string text = c["text"].get<std::string>();
    for (bool allow : {false, true}) {
      EXPECT_EQ(Base().Decode(Base().Encode(text, allow)), text) << c["text"].dump();
      EXPECT_EQ(It().Decode(It().Encode(text, allow)), text) << c["text"].dump();
    }
    EXPECT_EQ(Base().Decode(c["ids_base"].get<std::vector<int32_t>>()), text);
    EXPECT_EQ(It().Decode(c["ids_it"].get<std::vector<int32_t>>()), text);
  }
}

TEST(Fixtures, EveryDecodeCaseIsByteExactIncludingStream) {
  const auto cases = ReadJsonl(kDir + "/decode_cases.jsonl");
  ASSERT_EQ(cases.size(), 130u);
  for (const auto& c : cases) {
    const Tokenizer& t = c["set"] == "it" ? It() : Base();
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    const std::string note = c.value("note", "");
    EXPECT_EQ(t.Decode(ids), FromHex(c["hex"].get<std::string>())) << note;
    const auto token_hex = c["token_hex"].get<std::vector<std::string>>();
    const auto stream = c["stream"].get<std::vector<std::string>>();
    ASSERT_EQ(stream.size(), ids.size()) << note;
    Utf8StreamDecoder decoder;
    std::string joined;
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(std::string(t.TokenBytes(ids[i])), FromHex(token_hex[i])) << note;
      const std::string piece = decoder.Feed(t.TokenBytes(ids[i]));
      EXPECT_EQ(piece, stream[i]) << note << " token " << i;
      joined += piece;
    }
    const std::string flush = decoder.Flush();
    EXPECT_EQ(flush, c["stream_flush"].get<std::string>()) << note;
    if (c["valid_utf8"].get<bool>()) {
      EXPECT_EQ(joined + flush, c["text"].get<std::string>());
    }
  }
}

TEST(Fixtures, SpecialTokenIdsFollowTheRanks) {
  EXPECT_EQ(Base().num_ranks(), 65535);
  EXPECT_EQ(Base().vocab_size(), 65536);
  EXPECT_EQ(It().vocab_size(), 65540);
  EXPECT_EQ(It().SpecialTokenId("<|endoftext|>"), 65535);
  EXPECT_EQ(It().SpecialTokenId("<|end|>"), 65536);
  EXPECT_EQ(It().SpecialTokenId("<|user|>"), 65537);
  EXPECT_EQ(It().SpecialTokenId("<|assistant|>"), 65538);
  EXPECT_EQ(It().SpecialTokenId("<|system|>"), 65539);
  EXPECT_FALSE(Base().SpecialTokenId("<|end|>").has_value());
}

TEST(Fixtures, SpecialTextIsOrdinaryWhenNotAllowed) {
  const auto ids = It().Encode("a<|end|>b", /*allow_special=*/false);
  for (int32_t id : ids) EXPECT_LT(id, 65535);
  EXPECT_EQ(It().Decode(ids), "a<|end|>b");
  const auto allowed = It().Encode("a<|end|>b", /*allow_special=*/true);
  EXPECT_NE(std::find(allowed.begin(), allowed.end(), 65536), allowed.end());
}

TEST(Fixtures, UnknownIdIsAnErrorNamingIt) {
  try {
    Base().Decode(std::vector<int32_t>{1, 65536});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("65536"), std::string::npos) << e.what();
  }
  EXPECT_THROW(It().Decode(std::vector<int32_t>{65540}), Error);
  EXPECT_THROW(It().Decode(std::vector<int32_t>{-1}), Error);
}

TEST(Fixtures, InvalidUtf8IsAnErrorWithTheOffset) {
  for (const std::string& bad : {std::string("ab\xff"), std::string("\xc3"),
                                 std::string("x\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    try {
      Base().Encode(bad, true);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace talkie::tokenizer
