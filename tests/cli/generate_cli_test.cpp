// End-to-end tests of `talkie generate`: greedy output equal to the reference
// continuation, JSON output, batches from a prompts file, reproducible seeds,
// and one-line errors for bad arguments.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../model/fixtures.h"
#include "cli_util.h"
#include "io/gguf.h"
#include "tokenizer/vocab.h"

namespace talkie {
namespace {

using testing::RunTalkie;

std::string Base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// A vocab.txt for the tiny fixture model (vocab 1000 = 999 ranks + <|endoftext|>).
std::string TinyVocab() {
  const std::string path = ::testing::TempDir() + "talkie_tiny_vocab.txt";
  std::ofstream out(path);
  for (int r = 0; r < 999; ++r)
    out << Base64(r < 256 ? std::string(1, static_cast<char>(r)) : " w" + std::to_string(r)) << " "
        << r << "\n";
  return path;
}

std::string Tiny() {
  return "--model " + testing::ModelFixtureDir() + "/models/tiny --tokenizer " + TinyVocab() + " ";
}

nlohmann::json LastJsonLine(const std::string& output) {
  std::istringstream in(output);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') last = line;
  return nlohmann::json::parse(last);
}

TEST(GenerateCliTest, GreedyJsonMatchesTheReferenceContinuation) {
  const io::TensorStore expected =
      io::LoadSafetensors(testing::ModelFixtureDir() + "/expected/tiny/len17.safetensors");
  std::string ids;
  for (int32_t id : testing::IdsOf(*expected.Find("input_ids")))
    ids += (ids.empty() ? "" : ",") + std::to_string(id);
  std::vector<int32_t> greedy = testing::IdsOf(*expected.Find("greedy_tokens"));
  // Stop at <|endoftext|> (999) if the reference continuation reaches it.
  const auto r = RunTalkie("generate " + Tiny() + "--ids " + ids + " -t 0 -n 12 --json --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = LastJsonLine(r.output);
  const auto got = j["ids"].get<std::vector<int32_t>>();
  auto eot = std::find(greedy.begin(), greedy.end(), 999);
  greedy.erase(eot, greedy.end());
  EXPECT_EQ(got, greedy);
  EXPECT_EQ(j["prompt_tokens"], 17);
  EXPECT_EQ(j["finish_reason"], greedy.size() == 12 ? "length" : "stop_token");
  EXPECT_TRUE(j.contains("tokens_per_second"));
  EXPECT_TRUE(j.contains("text"));
}

TEST(GenerateCliTest, SeedReproducesAndBatchMatchesSingleRuns) {
  const std::string file = ::testing::TempDir() + "talkie_prompts.txt";
  std::ofstream(file) << "The old house\nA w300 w301\n";
  const std::string common = "generate " + Tiny() + "-n 10 --seed 5 --top-k 40 --json --quiet ";
  const auto batch = RunTalkie(common + "--prompts-file " + file);
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  std::vector<nlohmann::json> rows;
  std::istringstream in(batch.output);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  const auto one = LastJsonLine(RunTalkie(common + "'The old house'").output);
  const auto two = LastJsonLine(RunTalkie(common + "'A w300 w301'").output);
  EXPECT_EQ(rows[0]["ids"], one["ids"]);
  EXPECT_EQ(rows[1]["ids"], two["ids"]);
  EXPECT_EQ(LastJsonLine(RunTalkie(common + "'The old house'").output)["ids"], one["ids"]);
}

TEST(GenerateCliTest, StreamsTextAndReportsSpeedOnStderr) {
  const auto r = RunTalkie("generate " + Tiny() + "'Once' -n 5 --seed 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("Once", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("tok/s"), std::string::npos) << r.output;
}

std::string RepeatedIds(int n, int id) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(id);
  return s;
}

// Issue #16: the rule the server uses, prompt + generated <= the context
// (2048): a 2045-token prompt gets 3 tokens, 2047 gets 1, 2048 is refused.
TEST(GenerateCliTest, PromptPlusGeneratedFitTheContext) {
  for (const auto& [prompt, generated] : {std::pair{2045, 3}, std::pair{2047, 1}}) {
    const auto r = RunTalkie("generate " + Tiny() + "--ids " + RepeatedIds(prompt, 7) +
                             " -t 0 -n 100 --ignore-eos --json --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.output.substr(0, 300);
    const nlohmann::json j = LastJsonLine(r.output);
    EXPECT_EQ(j["ids"].size(), static_cast<size_t>(generated)) << "prompt " << prompt;
    EXPECT_EQ(j["finish_reason"], "length");
  }
  const auto full = RunTalkie("generate " + Tiny() + "--ids " + RepeatedIds(2048, 7) + " -t 0");
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_NE(full.output.find("context limit is 2048"), std::string::npos) << full.output;
}

// --ignore-eos: the end tokens are never sampled, so generation runs to -n;
// without it the bundled (IT) model ends its short answer with <|end|>.
TEST(GenerateCliTest, IgnoreEosGeneratesToMaxNewTokens) {
  const std::string args =
      "generate --allow-special '<|user|>What is wit?<|end|><|assistant|>' -t 0 -n 60 --json "
      "--quiet";
  const nlohmann::json plain = LastJsonLine(RunTalkie(args).output);
  ASSERT_EQ(plain["finish_reason"], "stop_token") << plain.dump();
  ASSERT_LT(plain["ids"].size(), 60u);
  const nlohmann::json ignoring = LastJsonLine(RunTalkie(args + " --ignore-eos").output);
  EXPECT_EQ(ignoring["finish_reason"], "length");
  const auto ids = ignoring["ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(ids.size(), 60u);
  // The first tokens are the plain answer's (the same greedy choices).
  const auto answer = plain["ids"].get<std::vector<int32_t>>();
  EXPECT_TRUE(std::equal(answer.begin(), answer.end(), ids.begin()));
}

// Issue #15: a GGUF model that carries its tokenizer (tokenizer.ggml.*, as
// llama.cpp's converter writes it) needs no --tokenizer: the tiny GGUF
// fixture plus the tiny vocabulary as GGUF metadata generates exactly what
// the GGUF with the vocab.txt tokenizer generates.
TEST(GenerateCliTest, AGgufModelBringsItsOwnTokenizer) {
  const std::string fixture = std::string(TALKIE_TEST_DATA_DIR) + "/gguf/tiny-bf16.gguf";
  const io::GgufFile g = io::LoadGguf(fixture);
  std::vector<io::GgufEntry> meta;
  for (const auto& [key, value] : g.metadata()) meta.push_back({key, value});
  // The tiny vocabulary of TinyVocab(): 999 ranks, then <|endoftext|>.
  std::vector<std::string> tokens;
  io::GgufValue types;
  types.type = io::GgufType::kArray;
  types.element_type = io::GgufType::kInt32;
  for (int r = 0; r < 999; ++r) {
    const std::string bytes =
        r < 256 ? std::string(1, static_cast<char>(r)) : " w" + std::to_string(r);
    tokens.push_back(tokenizer::BytesToByteLevel(bytes));
    types.ints.push_back(1);
  }
  tokens.push_back("<|endoftext|>");
  types.ints.push_back(3);
  types.count = types.ints.size();
  meta.push_back(io::GgufString("tokenizer.ggml.model", "gpt2"));
  meta.push_back(io::GgufString("tokenizer.ggml.pre", "talkie"));
  meta.push_back(io::GgufStringArray("tokenizer.ggml.tokens", tokens));
  meta.push_back({"tokenizer.ggml.token_type", types});
  std::vector<io::GgufTensorToWrite> tensors;
  for (const io::GgufTensor& t : g.tensors())
    tensors.push_back(
        {t.name, t.dims, t.type->id, std::vector<std::byte>(t.data, t.data + t.nbytes)});
  const std::string dir = ::testing::TempDir() + "talkie_gguf_with_tokenizer";
  std::filesystem::create_directories(dir);
  const std::string with_tokenizer = dir + "/tiny-bf16-vocab.gguf";
  io::WriteGguf(with_tokenizer, meta, tensors);

  const std::string run = " -t 0 -n 12 --ignore-eos --json --quiet 'In the w300 w301 beginning'";
  const auto own = RunTalkie("generate -m " + with_tokenizer + run);
  ASSERT_EQ(own.exit_code, 0) << own.output;
  const auto given = RunTalkie("generate -m " + fixture + " --tokenizer " + TinyVocab() + run);
  ASSERT_EQ(given.exit_code, 0) << given.output;
  EXPECT_EQ(LastJsonLine(own.output)["ids"], LastJsonLine(given.output)["ids"]);
  EXPECT_EQ(LastJsonLine(own.output)["text"], LastJsonLine(given.output)["text"]);
  EXPECT_EQ(LastJsonLine(own.output)["prompt_tokens"], LastJsonLine(given.output)["prompt_tokens"]);
  // tokenize takes the GGUF's tokenizer too.
  const auto ids = RunTalkie("tokenize -m " + with_tokenizer + " --text 'In the beginning w1'");
  ASSERT_EQ(ids.exit_code, 0) << ids.output;
  EXPECT_EQ(
      ids.output,
      RunTalkie("tokenize --tokenizer " + TinyVocab() + " --text 'In the beginning w1'").output);
}

TEST(GenerateCliTest, BadArgumentsGiveOneLineErrors) {
  struct Case {
    std::string args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"generate " + Tiny(), "empty prompt"},
           {"generate " + Tiny() + "'' ", "empty prompt"},
           {"generate " + Tiny() + "hi -t -1", "--temperature must be >= 0"},
           {"generate " + Tiny() + "hi --top-p 0", "--top-p must be in (0, 1]"},
           {"generate " + Tiny() + "hi --top-p 1.5", "--top-p must be in (0, 1]"},
           {"generate " + Tiny() + "hi --top-k -2", "--top-k must be >= 0"},
           {"generate " + Tiny() + "--ids 1,2,5000", "token id 5000"},
           {"generate --model /no/such/model hi", "no such file or directory"},
           {"generate " + Tiny() + "--ids " + std::string(4000, '1').substr(0, 0) + "1" +
                [] {
                  std::string s;
                  for (int i = 0; i < 2048; ++i) s += ",1";
                  return s;
                }(),
            "context limit is 2048"},
       }) {
    const auto r = RunTalkie(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args.substr(0, 200) << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args.substr(0, 200) << "\n"
                                                           << r.output;
    EXPECT_EQ(r.output.find("talkie: error: "), 0u) << r.output;
  }
}

}  // namespace
}  // namespace talkie
