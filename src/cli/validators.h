// CLI11 validators for integer options. CLI11 itself silently clamps an
// out-of-range int64 ("99999999999999999999" becomes INT64_MAX); these check
// the text first, so an option gets exactly the number typed or an error.
#pragma once

#include <cstdint>
#include <limits>

#include <CLI/CLI.hpp>

namespace talkie::cli {

// An integer in [min, max], written in full (no clamping, no trailing text).
CLI::Validator IntegerIn(int64_t min, int64_t max = std::numeric_limits<int64_t>::max());

// A seed: an integer in [0, 2^53] (what a JSON number holds exactly, the
// server's rule too).
CLI::Validator SeedValue();

}  // namespace talkie::cli
