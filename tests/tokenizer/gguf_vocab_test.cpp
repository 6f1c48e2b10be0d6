// The tokenizer of a GGUF file (#15): the tokenizer fixture's vocabulary as
// llama.cpp's converter writes it (tests/data/gguf/talkie-vocab-it.gguf,
// written with llama.cpp's gguf-py) must encode every oracle case as the real
// tiktoken did, and malformed tokenizer metadata is an error naming the key
// or token.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace talkie::tokenizer {
namespace {

namespace fs = std::filesystem;
const std::string kGguf = std::string(TALKIE_TEST_DATA_DIR) + "/gguf/talkie-vocab-it.gguf";
const std::string kVocabTxt = std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/vocab.txt";

TEST(GgufVocab, EveryFixtureCaseEncodesAsTiktokenDid) {
  const Tokenizer it = Tokenizer::FromGguf(kGguf, std::nullopt);  // style from <|user|>
  const Tokenizer base = Tokenizer::FromGguf(kGguf, Style::kBase);
  EXPECT_EQ(it.style(), Style::kIt);
  EXPECT_EQ(it.vocab_size(), 65540);
  EXPECT_EQ(base.vocab_size(), 65536);
  std::ifstream in(std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/cases.jsonl");
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    const nlohmann::json c = nlohmann::json::parse(line);
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(it.Encode(text, true), c["ids_it"].get<std::vector<int32_t>>()) << c["tag"];
    EXPECT_EQ(base.Encode(text, true), c["ids_base"].get<std::vector<int32_t>>()) << c["tag"];
    EXPECT_EQ(it.Decode(c["ids_it"].get<std::vector<int32_t>>()), text);
    ++cases;
  }
  EXPECT_EQ(cases, 691);
}

TEST(GgufVocab, RanksAndSpecialIdsEqualTheVocabTxtTokenizer) {
  const Tokenizer gguf = Tokenizer::FromGguf(kGguf, Style::kIt);
  const Tokenizer txt = Tokenizer::FromVocabTxt(kVocabTxt, Style::kIt);
  ASSERT_EQ(gguf.num_ranks(), txt.num_ranks());
  for (int32_t id = 0; id < txt.vocab_size(); ++id)
    ASSERT_EQ(gguf.TokenBytes(id), txt.TokenBytes(id)) << "id " << id;
  for (const SpecialToken& s : txt.special_tokens())
    EXPECT_EQ(gguf.SpecialTokenId(s.text), s.id) << s.text;
}

TEST(GgufVocab, AFolderWithOnlyAGgufLoadsItsTokenizer) {
  const fs::path dir = fs::path(::testing::TempDir()) / "talkie_gguf_vocab_dir";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kGguf, dir / "model.gguf");
  const Tokenizer t = Tokenizer::FromPath(dir.string());
  EXPECT_EQ(t.style(), Style::kIt);
  // The model's vocab size picks the style, as for tokenizer.json.
  EXPECT_EQ(Tokenizer::FromPath(dir.string(), std::nullopt, 65536).style(), Style::kBase);
  fs::copy_file(kGguf, dir / "other.gguf");  // two: ambiguous
  EXPECT_THROW(Tokenizer::FromPath(dir.string()), Error);
}

// A small valid tokenizer: the 256 single bytes, two merged tokens and
// <|endoftext|>, with `edit` applied to the metadata.
std::string SmallGguf(const std::function<void(std::vector<io::GgufEntry>&)>& edit = {}) {
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
  for (int b = 0; b < 256; ++b) {
    const std::string s = BytesToByteLevel(std::string(1, static_cast<char>(b)));
    tokens.push_back(s);
    types.push_back(1);
  }
  tokens.push_back("ab");
  types.push_back(1);
  tokens.push_back("\xC4\xA0the");  // " the"
  types.push_back(1);
  tokens.push_back("<|endoftext|>");
  types.push_back(3);
  io::GgufValue type_array;
  type_array.type = io::GgufType::kArray;
  type_array.element_type = io::GgufType::kInt32;
  type_array.ints = types;
  type_array.count = types.size();
  std::vector<io::GgufEntry> meta = {
      io::GgufString("general.architecture", "talkie"),
      io::GgufString("tokenizer.ggml.model", "gpt2"),
      io::GgufString("tokenizer.ggml.pre", "talkie"),
      io::GgufStringArray("tokenizer.ggml.tokens", tokens),
      {"tokenizer.ggml.token_type", type_array},
      io::GgufStringArray("tokenizer.ggml.merges", {"a b", "\xC4\xA0 the"}),
  };
  if (edit) edit(meta);
  return io::SerializeGguf(meta, {});
}

Vocab Parse(const std::string& bytes) {
  return VocabFromGguf(
      io::ParseGguf(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(), "t.gguf"));
}

io::GgufEntry* Entry(std::vector<io::GgufEntry>& meta, const std::string& key) {
  for (io::GgufEntry& e : meta)
    if (e.key == key) return &e;
  return nullptr;
}

TEST(GgufVocab, SmallTokenizerEncodes) {
  const Vocab v = Parse(SmallGguf());
  ASSERT_EQ(v.added.size(), 1u);
  EXPECT_EQ(v.added[0].text, "<|endoftext|>");
  EXPECT_EQ(v.added[0].id, 258);
  EXPECT_EQ(v.tokens[257], " the");
  const Tokenizer t(v, v.added, Style::kBase);
  EXPECT_EQ(t.Encode("ab the<|endoftext|>", true), (std::vector<int32_t>{256, 257, 258}));
}

TEST(GgufVocab, MalformedMetadataIsAnErrorNamingIt) {
  struct Case {
    std::function<void(std::vector<io::GgufEntry>&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& m) { Entry(m, "tokenizer.ggml.model")->value.s = "llama"; },
       "tokenizer.ggml.model is 'llama'"},
      {[](auto& m) { Entry(m, "tokenizer.ggml.pre")->value.s = "default"; },
       "tokenizer.ggml.pre is 'default'"},
      {[](auto& m) { std::erase_if(m, [](auto& e) { return e.key == "tokenizer.ggml.pre"; }); },
       "no tokenizer.ggml.pre"},
      {[](auto& m) { std::erase_if(m, [](auto& e) { return e.key == "tokenizer.ggml.tokens"; }); },
       "tokenizer.ggml.tokens is not"},
      {[](auto& m) { Entry(m, "tokenizer.ggml.token_type")->value.ints.pop_back(); },
       "258 entries for 259 tokens"},
      {[](auto& m) { Entry(m, "tokenizer.ggml.token_type")->value.ints[5] = 6; },
       "token 5: token type 6"},
      {[](auto& m) { Entry(m, "tokenizer.ggml.tokens")->value.strings[256] = "a b"; },
       "token 256: character outside the byte-level alphabet"},
      {[](auto& m) { Entry(m, "tokenizer.ggml.tokens")->value.strings[257] = "ab"; },
       "token 257: the same bytes as token 256"},
      {[](auto& m) {
         Entry(m, "tokenizer.ggml.token_type")->value.ints[65] = 5;  // "A" unused
       },
       "no token for the single byte 0x41"},
      {[](auto& m) { Entry(m, "tokenizer.ggml.tokens")->value.strings[258] = ""; },
       "token 258: empty special token"},
  };
  for (const Case& c : cases) {
    std::string bytes;
    try {
      bytes = SmallGguf([&](auto& m) {
        c.edit(m);
        // Keep the array counts consistent with the edited elements.
        for (io::GgufEntry& e : m)
          if (e.value.type == io::GgufType::kArray)
            e.value.count = std::max(e.value.strings.size(), e.value.ints.size());
      });
      Parse(bytes);
      ADD_FAILURE() << "accepted; expected: " << c.message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("t.gguf: ", 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace talkie::tokenizer
