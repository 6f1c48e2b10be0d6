// Long work (writes, perplexity, loading that repacks) shows a progress bar
// with rate and ETA on a terminal, and nothing of it when stderr is a pipe.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cli_pty.h"
#include "cli_util.h"

namespace talkie {
namespace {

namespace fs = std::filesystem;

TEST(ProgressCliTest, SynthAndQuantizeShowProgressOnATerminalOnly) {
  const std::string dir = ::testing::TempDir() + "talkie_progress_synth";
  const std::string quantized = ::testing::TempDir() + "talkie_progress_q8";
  fs::remove_all(dir);
  fs::remove_all(quantized);
  testing::PtyProcess synth({"synth", "--shape", "talkie-tiny", "--out", dir});
  ASSERT_EQ(synth.Wait(120), 0) << synth.out();
  EXPECT_NE(synth.out().find("writing model.safetensors ["), std::string::npos) << synth.out();
  EXPECT_NE(synth.out().find("100%"), std::string::npos) << synth.out();
  EXPECT_NE(synth.out().find("MB/s, ETA 0:00"), std::string::npos) << synth.out();

  testing::PtyProcess quantize({"quantize", "--type", "q8", "-m", dir, "--out", quantized});
  ASSERT_EQ(quantize.Wait(120), 0) << quantize.out();
  EXPECT_NE(quantize.out().find("100%"), std::string::npos) << quantize.out();

  // Piped: the same command prints its one result line only.
  const auto piped = testing::RunTalkie("synth --shape talkie-tiny --force --out " + dir);
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_EQ(piped.output.find('%'), std::string::npos) << piped.output;
  EXPECT_EQ(piped.output.find('\r'), std::string::npos) << piped.output;
}

std::string WriteText(const std::string& name) {
  const std::string path = ::testing::TempDir() + name + "." + std::to_string(getpid()) + ".txt";
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 60; ++i)
    out << "And it came to pass, when the king had heard the words of the book of the law, that "
           "he rent his clothes.\n";
  return path;
}

TEST(ProgressCliTest, PerplexityShowsTokensRateAndEtaOnATerminalOnly) {
  const std::string text = WriteText("talkie_progress_ppl");
  testing::PtyProcess ppl({"perplexity", "--file", text, "--window", "128"});
  ASSERT_EQ(ppl.Wait(120), 0) << ppl.out();
  EXPECT_NE(ppl.out().find("perplexity ["), std::string::npos) << ppl.out();
  EXPECT_NE(ppl.out().find("100%"), std::string::npos) << ppl.out();
  EXPECT_NE(ppl.out().find(" tok/s, ETA 0:00"), std::string::npos) << ppl.out();
  // It counts up to the tokens the result says were scored.
  const auto piped = testing::RunTalkie("perplexity --json --window 128 --file " + text);
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  const std::string scored = std::to_string(testing::JsonLine(piped.output)["tokens"].get<int>());
  std::string all_done = scored;
  all_done.append("/").append(scored).append(" tok, ");
  EXPECT_NE(ppl.out().find(all_done), std::string::npos) << ppl.out();
  // Piped: the result only.
  EXPECT_EQ(piped.output.find('%'), std::string::npos) << piped.output;
  EXPECT_EQ(piped.output.find('\r'), std::string::npos) << piped.output;
  fs::remove(text);
}

// Loading shows a bar only for the stages that read the whole checkpoint
// (re-laying a quantized GGUF file, packing q8 for the fast policy), once
// they have run TALKIE_PROGRESS_DELAY seconds (0 here, so the tiny models
// show it); a model that is only mapped shows none.
TEST(ProgressCliTest, LoadingShowsProgressForRepackingOnATerminalOnly) {
  const std::vector<std::pair<std::string, std::string>> now = {{"TALKIE_PROGRESS_DELAY", "0"}};
  const std::string gguf = std::string(TALKIE_TEST_DATA_DIR) + "/gguf/tiny-q8_0.gguf";
  testing::PtyProcess relay({"info", "-m", gguf}, now);
  ASSERT_EQ(relay.Wait(120), 0) << relay.out();
  EXPECT_NE(relay.out().find("re-laying tiny-q8_0.gguf ["), std::string::npos) << relay.out();
  EXPECT_NE(relay.out().find("100%"), std::string::npos) << relay.out();

  const std::string quantized = ::testing::TempDir() + "talkie_progress_load_q8";
  fs::remove_all(quantized);
  const auto q = testing::RunTalkie("quantize --type q8 --out " + quantized);
  ASSERT_EQ(q.exit_code, 0) << q.output;
  const std::vector<std::string> fast = {"generate", "-m", quantized, "--policy", "fast",
                                         "-n",       "1",  "-t",      "0",        "--quiet",
                                         "--seed",   "1",  "Behold"};
  testing::PtyProcess pack(fast, now);
  ASSERT_EQ(pack.Wait(120), 0) << pack.out();
  EXPECT_NE(pack.out().find("packing weights ["), std::string::npos) << pack.out();
  EXPECT_NE(pack.out().find("100%"), std::string::npos) << pack.out();

  // Mapped in place (bf16 safetensors, exact policy): nothing to show.
  testing::PtyProcess mapped({"info"}, now);
  ASSERT_EQ(mapped.Wait(120), 0) << mapped.out();
  EXPECT_EQ(mapped.out().find(" ["), std::string::npos) << mapped.out();
  EXPECT_EQ(mapped.out().find("MB/s"), std::string::npos) << mapped.out();

  // Piped: no bar, whatever the delay.
  setenv("TALKIE_PROGRESS_DELAY", "0", 1);
  for (const std::string& command :
       {"info -m " + gguf,
        "generate -m " + quantized + " --policy fast -n 1 -t 0 --quiet Behold"}) {
    const auto piped = testing::RunTalkie(command);
    EXPECT_EQ(piped.exit_code, 0) << piped.output;
    EXPECT_EQ(piped.output.find("MB/s"), std::string::npos) << piped.output;
    EXPECT_EQ(piped.output.find('\r'), std::string::npos) << piped.output;
  }
  unsetenv("TALKIE_PROGRESS_DELAY");
  fs::remove_all(quantized);
}

}  // namespace
}  // namespace talkie
