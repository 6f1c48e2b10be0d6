// The tokenizer metadata `talkie quantize --out FILE.gguf` writes
// (tokenizer/gguf_metadata.h): the tokens and token types are those
// llama.cpp's gguf-py wrote for the converter's layout
// (tests/data/gguf/talkie-vocab-it.gguf), the file reads back as a tokenizer
// that encodes every oracle case as tiktoken did, and each merge joins two
// lower-ranked tokens into the next one.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/gguf.h"
#include "tokenizer/gguf_metadata.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace talkie::tokenizer {
namespace {

const std::string kRanksTxt = std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/vocab.txt";

const io::GgufValue& Get(const std::vector<io::GgufEntry>& entries, const std::string& key) {
  for (const io::GgufEntry& e : entries)
    if (e.key == key) return e.value;
  throw Error("no " + key);
}

std::string WriteTemp(const std::vector<io::GgufEntry>& metadata, const std::string& name) {
  const std::string path = ::testing::TempDir() + "talkie_tok_meta_" + name + ".gguf";
  io::WriteGguf(path, metadata, {});
  return path;
}

TEST(GgufTokenizerMetadata, TokensAndTypesAreThoseOfLlamaCppsGgufPy) {
  const Tokenizer it = Tokenizer::FromVocabTxt(kRanksTxt, Style::kIt);
  const std::vector<io::GgufEntry> ours = GgufTokenizerMetadata(it, 65540);
  const io::GgufFile theirs =
      io::LoadGguf(std::string(TALKIE_TEST_DATA_DIR) + "/gguf/talkie-vocab-it.gguf");
  EXPECT_EQ(Get(ours, "tokenizer.ggml.tokens").strings,
            theirs.Find("tokenizer.ggml.tokens")->strings);
  EXPECT_EQ(Get(ours, "tokenizer.ggml.token_type").ints,
            theirs.Find("tokenizer.ggml.token_type")->ints);
  EXPECT_EQ(Get(ours, "tokenizer.ggml.model").s, "gpt2");
  EXPECT_EQ(Get(ours, "tokenizer.ggml.pre").s, "talkie");
  EXPECT_EQ(Get(ours, "tokenizer.ggml.bos_token_id").u, 65535u);
  EXPECT_EQ(Get(ours, "tokenizer.ggml.eos_token_id").u, 65536u);  // <|end|>
  EXPECT_NE(Get(ours, "tokenizer.chat_template").s.find("<|assistant|>"), std::string::npos);
}

TEST(GgufTokenizerMetadata, TheFileReadsBackAsTheSameTokenizer) {
  for (const Style style : {Style::kBase, Style::kIt}) {
    const Tokenizer txt = Tokenizer::FromVocabTxt(kRanksTxt, style);
    const int64_t rows = txt.vocab_size() + 3;  // a model with spare embedding rows
    const Tokenizer back =
        Tokenizer::FromGguf(WriteTemp(GgufTokenizerMetadata(txt, rows), "rt"), style);
    ASSERT_EQ(back.num_ranks(), txt.num_ranks());
    for (const SpecialToken& s : txt.special_tokens())
      EXPECT_EQ(back.SpecialTokenId(s.text), s.id) << s.text;
    std::ifstream in(std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/cases.jsonl");
    std::string line;
    int cases = 0;
    const char* key = style == Style::kIt ? "ids_it" : "ids_base";
    while (std::getline(in, line)) {
      const nlohmann::json c = nlohmann::json::parse(line);
      EXPECT_EQ(back.Encode(c["text"].get<std::string>(), true), c[key].get<std::vector<int32_t>>())
          << c["tag"];
      ++cases;
    }
    EXPECT_EQ(cases, 691);
  }
}

TEST(GgufTokenizerMetadata, EachMergeJoinsTwoLowerRanksIntoTheNextToken) {
  const Tokenizer txt = Tokenizer::FromVocabTxt(kRanksTxt, Style::kBase);
  const std::vector<io::GgufEntry> meta = GgufTokenizerMetadata(txt, txt.vocab_size());
  const std::vector<std::string>& merges = Get(meta, "tokenizer.ggml.merges").strings;
  const RankMap& ranks = txt.ranks();
  size_t expected = 0;
  for (int32_t r = 0; r < ranks.size(); ++r) expected += ranks.Has(r) && ranks.Bytes(r).size() > 1;
  ASSERT_EQ(merges.size(), expected);
  int32_t previous = -1;
  for (const std::string& m : merges) {
    const size_t space = m.find(' ');
    ASSERT_NE(space, std::string::npos) << m;
    const std::string a = ByteLevelToBytes(m.substr(0, space), m);
    const std::string b = ByteLevelToBytes(m.substr(space + 1), m);
    const int32_t ra = ranks.Find(a), rb = ranks.Find(b), joined = ranks.Find(a + b);
    ASSERT_GE(ra, 0) << m;
    ASSERT_GE(rb, 0) << m;
    ASSERT_GT(joined, previous) << m;  // in rank order
    EXPECT_LT(ra, joined) << m;
    EXPECT_LT(rb, joined) << m;
    previous = joined;
  }
  EXPECT_THROW(GgufTokenizerMetadata(txt, 100), Error);  // fewer rows than ids
}

TEST(GgufTokenizerMetadata, AFilesChatTemplateIsReadBackAsItsText) {
  const Tokenizer it = Tokenizer::FromVocabTxt(kRanksTxt, Style::kIt);
  std::vector<io::GgufEntry> meta = GgufTokenizerMetadata(it, it.vocab_size());
  EXPECT_EQ(Tokenizer::FromGguf(WriteTemp(meta, "tpl"), Style::kIt).file_chat_template(),
            kItChatTemplate);
  for (io::GgufEntry& e : meta)
    if (e.key == "tokenizer.chat_template") e.value.s = "{{ messages[0]['content'] }}";
  EXPECT_EQ(Tokenizer::FromGguf(WriteTemp(meta, "tpl2"), Style::kIt).file_chat_template(),
            "{{ messages[0]['content'] }}");
  // The base style writes none; other sources carry none.
  const Tokenizer base = Tokenizer::FromVocabTxt(kRanksTxt, Style::kBase);
  EXPECT_EQ(Tokenizer::FromGguf(WriteTemp(GgufTokenizerMetadata(base, base.vocab_size()), "tpl3"),
                                Style::kBase)
                .file_chat_template(),
            "");
  EXPECT_EQ(it.file_chat_template(), "");
}

}  // namespace
}  // namespace talkie::tokenizer
