// Load progress observer (see load_progress.h).
#include "model/load_progress.h"

#include <utility>

namespace talkie::model {
namespace {

LoadProgress& Observer() {
  thread_local LoadProgress observer;
  return observer;
}

}  // namespace

void SetLoadProgress(LoadProgress observer) { Observer() = std::move(observer); }

ScopedLoadProgress::ScopedLoadProgress(LoadProgress observer)
    : previous_(std::exchange(Observer(), std::move(observer))) {}
ScopedLoadProgress::~ScopedLoadProgress() { Observer() = std::move(previous_); }

void ReportLoadProgress(const std::string& stage, uint64_t done, uint64_t total) {
  if (Observer()) Observer()(stage, done, total);
}

}  // namespace talkie::model
