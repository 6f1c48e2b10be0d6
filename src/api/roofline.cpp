// The public machine measurements: bench_support's probes (src/bench_support).
#include "talkie/roofline.h"

#include "api/access.h"
#include "bench_support/roofline.h"
#include "talkie/error.h"

namespace talkie {

namespace {
void CheckThreads(int threads, const char* what) {
  Check(threads >= 1, std::string(what) + ": threads must be >= 1, got " + std::to_string(threads));
}
}  // namespace

double MeasureReadBandwidth(int threads) {
  CheckThreads(threads, "MeasureReadBandwidth");
  return bench_support::MeasureReadBandwidth(threads);
}

double MeasureFmaPeak(int threads) {
  CheckThreads(threads, "MeasureFmaPeak");
  return bench_support::MeasureFmaPeak(threads);
}

double MeasureDotPeak(const Model& model, int threads, std::string* kind) {
  CheckThreads(threads, "MeasureDotPeak");
  const model::Model& m = ModelAccess::Internal(model);
  const ops::WeightType type = m.weights().lm_head.type;
  if (kind != nullptr) *kind = type == ops::WeightType::kBF16 ? "bf16 dot" : "int8 dot";
  if (m.precision() != ops::Precision::kFast) return 0.0;
  return bench_support::MeasureLowPrecisionPeak(type, threads);
}

}  // namespace talkie
