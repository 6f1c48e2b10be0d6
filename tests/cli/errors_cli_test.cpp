// Every error of the `talkie` program, CLI11's parse errors included, is one
// line `talkie: error: ...` with exit code 1; --version names the SIMD target.
#include <algorithm>
#include <regex>

#include <gtest/gtest.h>

#include "cli_util.h"

namespace talkie {
namespace {

using testing::RunTalkie;

TEST(ErrorsCliTest, ParseErrorsUseTheDocumentedFormat) {
  struct Case {
    std::string args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"nosuch", "unknown command 'nosuch'"},
           {"", "no command given"},
           {"--bogus", "unknown option '--bogus'"},
           {"generate hi -n abc", "--max-new-tokens: must be an integer >= 0, got 'abc'"},
           {"generate hi --threads x", "--threads: 'x' is not a valid number"},
           {"quantize --type q8", "--out is required"},
           {"generate --bogus hi", "unknown option --bogus"},
           {"generate In the beginning", "unexpected argument(s): the beginning"},
           {"tokenize --style klingon --text hi", "--style"},
       }) {
    const auto r = RunTalkie(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("talkie: error: "), 0u) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST(ErrorsCliTest, VersionPrintsTheVersionAndSimdTarget) {
  const auto r = RunTalkie("--version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::regex_match(r.output, std::regex("talkie \\d+\\.\\d+\\.\\d+ \\(SIMD target: "
                                                    "[A-Za-z0-9_]+\\)\n")))
      << r.output;
  EXPECT_EQ(RunTalkie("--help").exit_code, 0);
  EXPECT_EQ(RunTalkie("generate --help").exit_code, 0);
}

}  // namespace
}  // namespace talkie
