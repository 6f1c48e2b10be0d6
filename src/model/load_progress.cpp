// Load progress observer (see load_progress.h).
#include "model/load_progress.h"

namespace talkie::model {
namespace {

LoadProgress& Observer() {
  static LoadProgress observer;
  return observer;
}

}  // namespace

void SetLoadProgress(LoadProgress observer) { Observer() = std::move(observer); }

void ReportLoadProgress(const std::string& stage, uint64_t done, uint64_t total) {
  if (Observer()) Observer()(stage, done, total);
}

}  // namespace talkie::model
