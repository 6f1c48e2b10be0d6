// `talkie tokenize` / `talkie detokenize` end to end, running the built
// program against the fixture vocabulary.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

const std::string kVocab = std::string(TALKIE_TEST_DATA_DIR) + "/tokenizer/vocab.txt";

struct Result {
  int status;
  std::string out;
};

// Runs a shell command line; returns its exit status and stdout.
Result RunShell(const std::string& cmd) {
  Result r{-1, ""};
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Talkie(const std::string& args) {
  return std::string("'") + TALKIE_CLI_PATH + "' " + args;
}

TEST(TokenizeCli, TextToIdsAndBack) {
  const Result r = RunShell(Talkie("tokenize --tokenizer '" + kVocab + "' --text 'Hello world'"));
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "[9906,1917]\n");  // cl100k ids of "Hello", " world".
  const Result back = RunShell(Talkie("detokenize --tokenizer '" + kVocab + "' --ids 9906,1917"));
  ASSERT_EQ(back.status, 0);
  EXPECT_EQ(back.out, "Hello world");
}

TEST(TokenizeCli, SpecialTokensAndStyle) {
  const std::string base = "tokenize --tokenizer '" + kVocab + "' --text 'a<|end|>'";
  const Result as_text = RunShell(Talkie(base + " --style it"));
  const Result special = RunShell(Talkie(base + " --style it --allow-special"));
  ASSERT_EQ(special.status, 0);
  EXPECT_NE(special.out.find("65536"), std::string::npos) << special.out;
  EXPECT_EQ(as_text.out.find("65536"), std::string::npos) << as_text.out;
  const Result base_style = RunShell(Talkie(base + " --style base --allow-special"));
  EXPECT_EQ(base_style.out.find("65536"), std::string::npos);
  EXPECT_EQ(RunShell(Talkie("detokenize --tokenizer '" + kVocab + "' --style it --ids 65537")).out,
            "<|user|>");
}

TEST(TokenizeCli, JsonLines) {
  const std::string cmd = "printf '%s\\n' '{\"text\": \"Hi there\"}' '{\"text\": \"\\u00e9\"}' | " +
                          Talkie("tokenize --jsonl --tokenizer '" + kVocab + "'");
  const Result r = RunShell(cmd);
  ASSERT_EQ(r.status, 0);
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  std::string ids_lines;
  while (std::getline(lines, line)) {
    const auto doc = nlohmann::json::parse(line);
    ASSERT_TRUE(doc.contains("ids"));
    ids_lines += "{\"ids\":" + doc["ids"].dump() + "}\n";
    ++n;
  }
  EXPECT_EQ(n, 2);
  const auto dir = std::filesystem::temp_directory_path() / "talkie_cli_jsonl";
  std::filesystem::create_directories(dir);
  // Rank 127 is the lone byte 0xC3: invalid UTF-8 becomes U+FFFD in JSON.
  std::ofstream(dir / "ids.jsonl") << ids_lines << "{\"ids\":[127]}\n";
  const Result back = RunShell(Talkie("detokenize --jsonl --tokenizer '" + kVocab + "' < '" +
                                      (dir / "ids.jsonl").string() + "'"));
  ASSERT_EQ(back.status, 0);
  std::istringstream out(back.out);
  std::getline(out, line);
  EXPECT_EQ(nlohmann::json::parse(line)["text"], "Hi there");
  std::getline(out, line);
  EXPECT_EQ(nlohmann::json::parse(line)["text"], "\u00e9");
  std::getline(out, line);
  EXPECT_EQ(nlohmann::json::parse(line)["text"], "\uFFFD");
  std::filesystem::remove_all(dir);
}

TEST(TokenizeCli, FileAndModelDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / "talkie_cli_model";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kVocab, dir / "vocab.txt",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir / "config.json") << R"({"vocab_size": 65540})";
  std::ofstream(dir / "in.txt") << "<|user|>";
  const Result r = RunShell(Talkie("tokenize --allow-special --tokenizer '" + dir.string() +
                                   "' --file '" + (dir / "in.txt").string() + "'"));
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "[65537]\n");  // it style, from the config's vocab size.
  std::filesystem::remove_all(dir);
}

TEST(TokenizeCli, ErrorsAreOneLineWithExitCode1) {
  const Result unknown =
      RunShell(Talkie("detokenize --tokenizer '" + kVocab + "' --ids 70000 2>&1"));
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.out.find("unknown token id 70000"), std::string::npos) << unknown.out;
  const Result missing = RunShell(Talkie("tokenize --tokenizer /nonexistent --text x 2>&1"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("/nonexistent"), std::string::npos);
  const Result bad_ids = RunShell(Talkie("detokenize --tokenizer '" + kVocab + "' --ids 1,x 2>&1"));
  EXPECT_EQ(bad_ids.status, 1);
  const Result neither = RunShell(Talkie("tokenize --tokenizer '" + kVocab + "' 2>&1"));
  EXPECT_EQ(neither.status, 1);
}

}  // namespace
