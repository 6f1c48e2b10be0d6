// $TALKIE_SIMD caps the kernels a run may use (ops/cpu_features.h): `talkie
// info` names the kernels chosen, and a capped run generates the same text.
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include "cli_util.h"

namespace talkie {
namespace {

using testing::RunTalkie;

// Runs `talkie args` with TALKIE_SIMD=cap ("" = unset).
testing::CommandResult RunCapped(const std::string& cap, const std::string& args) {
  const char* before = std::getenv("TALKIE_SIMD");
  const std::string saved = before ? before : "";
  if (cap.empty()) {
    unsetenv("TALKIE_SIMD");
  } else {
    setenv("TALKIE_SIMD", cap.c_str(), 1);
  }
  testing::CommandResult r = RunTalkie(args);
  if (before) {
    setenv("TALKIE_SIMD", saved.c_str(), 1);
  } else {
    unsetenv("TALKIE_SIMD");
  }
  return r;
}

// This CPU's Highway targets, best first, whatever cap this test process
// itself runs under.
std::vector<int64_t> UncappedTargets() {
  hwy::SetSupportedTargetsForTest(0);
  return hwy::SupportedAndGeneratedTargets();
}

std::string LineStarting(const std::string& output, const std::string& prefix) {
  const size_t at = output.find("\n" + prefix);
  if (at == std::string::npos) return "";
  const size_t end = output.find('\n', at + 1);
  return output.substr(at + 1, end - at - 1);
}

TEST(SimdCapCliTest, ScalarCapRunsTheLowestTargetAndPortableKernels) {
  const auto r = RunCapped("scalar", "info");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The lowest Highway target this build has (the cap keeps at least one).
  const std::string lowest = hwy::TargetName(UncappedTargets().back());
  EXPECT_EQ(LineStarting(r.output, "kernels, exact:"), "kernels, exact:     " + lowest) << r.output;
  EXPECT_NE(LineStarting(r.output, "kernels, fast:").find("q8/q4 portable, bf16 portable"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("SIMD cap:           TALKIE_SIMD=scalar"), std::string::npos) << r.output;
}

TEST(SimdCapCliTest, UncappedRunsTheBestKernelsAndNamesNoCap) {
  const auto r = RunCapped("", "info");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(LineStarting(r.output, "kernels, exact:"),
            std::string("kernels, exact:     ") + hwy::TargetName(UncappedTargets().front()))
      << r.output;
  EXPECT_EQ(r.output.find("SIMD cap:"), std::string::npos) << r.output;
}

TEST(SimdCapCliTest, AnUnknownCapIsReportedAndIgnored) {
  const auto r = RunCapped("avx9000", "info");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("TALKIE_SIMD=avx9000 is not a known cap; ignored"), std::string::npos)
      << r.output;
}

// A capped run computes the same model: the fast int8 kernels give the same
// bits on every path, and the exact kernels of every target agree within the
// reference tolerance, so greedy text of this prompt is the same.
TEST(SimdCapCliTest, CappedGenerationGivesTheSameText) {
  for (const char* policy : {"exact", "fast"}) {
    const std::string args =
        std::string("generate 'It was the best of times' -n 24 -t 0 --quiet ") +
        "--threads 2 --policy " + policy;
    const auto best = RunCapped("", args);
    const auto capped = RunCapped("scalar", args);
    ASSERT_EQ(best.exit_code, 0) << best.output;
    ASSERT_EQ(capped.exit_code, 0) << capped.output;
    // The capped fast run may add the portable-kernel warning line.
    const size_t text = best.output.find("It was");
    ASSERT_NE(text, std::string::npos) << best.output;
    EXPECT_NE(capped.output.find(best.output.substr(text)), std::string::npos)
        << policy << "\nbest:\n"
        << best.output << "\ncapped:\n"
        << capped.output;
  }
}

}  // namespace
}  // namespace talkie
