// Logit quality report (see quality.h).
#include "cli/quality.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "talkie/convert.h"
#include "talkie/error.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {

bool PrintLogitQuality(const Model& reference, const Model& candidate, const std::string& text_file,
                       const std::string& label, const std::string& against) {
  std::ifstream in(text_file, std::ios::binary);
  Check(static_cast<bool>(in), text_file + ": cannot open text file");
  std::stringstream text;
  text << in.rdbuf();
  const Tokenizer tok = Tokenizer::ForModel(reference);
  const std::vector<int32_t> ids = tok.Encode(text.str(), false);
  const LogitComparison r = CompareLogits(reference, candidate, ids);
  std::printf(
      "%s vs %s on %lld positions: mean KL %.6f nats (max %.4f), top-1 agreement %.2f%%, "
      "max |logit diff| %.4f, finite: %s\n",
      label.c_str(), against.c_str(), static_cast<long long>(r.positions), r.mean_kl, r.max_kl,
      100.0 * r.top1_agreement, r.max_abs_logit_diff, r.finite ? "yes" : "NO");
  return r.finite;
}

}  // namespace talkie::cli
