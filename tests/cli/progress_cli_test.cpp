// Long writes show a progress bar with rate and ETA on a terminal, and
// nothing of it when stderr is a pipe.
#include <filesystem>

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

}  // namespace
}  // namespace talkie
