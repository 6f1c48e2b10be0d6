// Vocabulary loading: vocab.txt errors name the line; tokenizer.json built
// from the fixture vocab.txt gives identical encodings.
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace talkie::tokenizer {
namespace {

const std::string kDir = std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer";

// The 256 single-byte tokens as vocab.txt lines (ranks 0..255).
std::string ByteLines() {
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (int b = 0; b < 256; ++b) {
    out += kB64[b >> 2];
    out += kB64[(b & 3) << 4];
    out += "== " + std::to_string(b) + "\n";
  }
  return out;
}

std::string ErrorOf(const std::string& contents) {
  try {
    ParseTiktokenVocab(contents, "v.txt");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Vocab, ParsesMinimalVocab) {
  const Vocab v = ParseTiktokenVocab(ByteLines() + "aGk= 256\n", "v.txt");
  ASSERT_EQ(v.tokens.size(), 257u);
  EXPECT_EQ(v.tokens[256], "hi");
  EXPECT_EQ(v.tokens[65], "A");
}

TEST(Vocab, ErrorsNameTheLine) {
  const std::string base = ByteLines();  // 256 lines
  EXPECT_NE(ErrorOf(base + "a$k= 256\n").find("line 257: bad base64"), std::string::npos)
      << ErrorOf(base + "a$k= 256\n");
  EXPECT_NE(ErrorOf(base + "aGk 256\n").find("line 257: bad base64"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "aGk=\n").find("line 257: missing rank"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "aGk= \n").find("line 257: missing rank"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "aGk= 12x\n").find("line 257: bad rank"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "aGk= 7\n").find("line 257: duplicate rank 7"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "QQ== 300\n").find("line 257: duplicate token"), std::string::npos);
  EXPECT_NE(ErrorOf(base + "aGk= 99999999999\n").find("line 257: rank out of range"),
            std::string::npos);
  EXPECT_NE(ErrorOf("QQ== 0\n").find("single byte"), std::string::npos);
}

TEST(Vocab, KeepsOnlyRanksBelow65535) {
  const Vocab v = ParseTiktokenVocab(ByteLines() + "aGk= 65534\naGV5 65535\n", "v.txt");
  EXPECT_EQ(v.tokens.size(), 65535u);
  EXPECT_EQ(v.tokens[65534], "hi");
}

TEST(Vocab, SpecialIdsDeriveFromTheRankCount) {
  // A 4096-rank vocabulary (like the project's tiny model) numbers its
  // special tokens 4096..4100.
  std::string contents = ByteLines();
  for (int r = 256; r < 4096; ++r) {
    std::string tok = std::to_string(r);
    tok.insert(tok.begin(), 't');
    static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    for (size_t i = 0; i < tok.size(); i += 3) {
      uint32_t v = static_cast<uint8_t>(tok[i]) << 16;
      if (i + 1 < tok.size()) v |= static_cast<uint8_t>(tok[i + 1]) << 8;
      if (i + 2 < tok.size()) v |= static_cast<uint8_t>(tok[i + 2]);
      b64 += kB64[v >> 18];
      b64 += kB64[(v >> 12) & 63];
      b64 += i + 1 < tok.size() ? kB64[(v >> 6) & 63] : '=';
      b64 += i + 2 < tok.size() ? kB64[v & 63] : '=';
    }
    contents += b64 + " " + std::to_string(r) + "\n";
  }
  const auto dir = std::filesystem::temp_directory_path() / "talkie_vocab_tiny";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "vocab.txt") << contents;
  std::ofstream(dir / "config.json") << R"({"vocab_size": 4101})";
  const Tokenizer t = Tokenizer::FromPath(dir.string());
  EXPECT_EQ(t.style(), Style::kIt);
  EXPECT_EQ(t.SpecialTokenId("<|endoftext|>"), 4096);
  EXPECT_EQ(t.SpecialTokenId("<|system|>"), 4100);
  EXPECT_EQ(Tokenizer::FromPath((dir / "vocab.txt").string(), std::nullopt, 4097).style(),
            Style::kBase);
  EXPECT_THROW(Tokenizer::FromPath(dir.string(), std::nullopt, 4098), Error);
  std::filesystem::remove_all(dir);
}

TEST(Vocab, StyleForVocabSize) {
  EXPECT_EQ(StyleForVocabSize(65536, 65535), Style::kBase);
  EXPECT_EQ(StyleForVocabSize(65540, 65535), Style::kIt);
  EXPECT_EQ(StyleForVocabSize(4097, 4096), Style::kBase);
  EXPECT_EQ(StyleForVocabSize(4101, 4096), Style::kIt);
  EXPECT_THROW(StyleForVocabSize(65537, 65535), Error);
  EXPECT_THROW(ParseStyle("chat"), Error);
}

TEST(Vocab, ByteToUnicodeIsABijection) {
  std::vector<bool> seen(400, false);
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = ByteToUnicode(static_cast<uint8_t>(b));
    ASSERT_LT(cp, 400u);
    EXPECT_FALSE(seen[cp]);
    seen[cp] = true;
    EXPECT_EQ(ByteFromUnicode(cp), b);
  }
  EXPECT_EQ(ByteToUnicode(' '), 0x120u);  // The familiar 'Ġ'.
  EXPECT_EQ(ByteToUnicode('A'), static_cast<uint32_t>('A'));
}

// Writes the fixture vocabulary as a Hugging Face tokenizer.json with the
// GPT-2 byte-to-unicode mapping (computed here independently of the loader).
std::string WriteTokenizerJson(const std::filesystem::path& dir) {
  std::vector<uint32_t> mapping(256);
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    mapping[b] = keep ? b : next++;
  }
  const Vocab v = LoadTiktokenVocab(kDir + "/vocab.txt");
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t r = 0; r < v.tokens.size(); ++r) {
    std::string s;
    for (unsigned char c : v.tokens[r]) {
      const uint32_t cp = mapping[c];
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    vocab[s] = r;
  }
  nlohmann::json added = nlohmann::json::array();
  int id = 65535;
  for (const char* t : {"<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"}) {
    added.push_back({{"id", id++}, {"content", t}, {"special", true}});
  }
  nlohmann::json doc = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
  std::filesystem::create_directories(dir);
  const auto path = dir / "tokenizer.json";
  std::ofstream(path) << doc.dump();
  return path.string();
}

TEST(Vocab, TokenizerJsonGivesIdenticalIds) {
  const auto dir = std::filesystem::temp_directory_path() / "talkie_tokenizer_json_test";
  const std::string path = WriteTokenizerJson(dir);
  const Tokenizer json_it = Tokenizer::FromTokenizerJson(path, std::nullopt);
  const Tokenizer json_base = Tokenizer::FromTokenizerJson(path, Style::kBase);
  const Tokenizer dir_it = Tokenizer::FromPath(dir.string());  // Found inside the directory.
  EXPECT_EQ(json_it.style(), Style::kIt);
  EXPECT_EQ(json_it.num_ranks(), 65535);
  EXPECT_EQ(json_base.vocab_size(), 65536);
  std::ifstream in(kDir + "/cases.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    const auto c = nlohmann::json::parse(line);
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(json_it.Encode(text, true), c["ids_it"].get<std::vector<int32_t>>());
    EXPECT_EQ(json_base.Encode(text, true), c["ids_base"].get<std::vector<int32_t>>());
    EXPECT_EQ(dir_it.Encode(text, true), c["ids_it"].get<std::vector<int32_t>>());
    ++n;
  }
  EXPECT_EQ(n, 691);
  std::filesystem::remove_all(dir);
}

TEST(Vocab, BadTokenizerJson) {
  EXPECT_THROW(ParseHfTokenizerJson("{", "t.json"), Error);
  EXPECT_THROW(ParseHfTokenizerJson(R"({"model": {"type": "WordPiece", "vocab": {}}})", "t.json"),
               Error);
  EXPECT_THROW(ParseHfTokenizerJson(R"({"model": {"vocab": {"a": 0}}})", "t.json"),
               Error);  // Lacks most single bytes.
  EXPECT_THROW(ParseHfTokenizerJson(R"({"model": {"vocab": {"\u4e2d": 0}}})", "t.json"), Error);
}

TEST(Vocab, MissingFileNamesThePath) {
  try {
    LoadTiktokenVocab("/nonexistent/vocab.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/vocab.txt"), std::string::npos);
  }
  EXPECT_THROW(Tokenizer::FromPath("/nonexistent"), Error);
}

}  // namespace
}  // namespace talkie::tokenizer
