// Write progress observer (see write_progress.h).
#include "io/write_progress.h"

namespace talkie::io {
namespace {

WriteProgress& Observer() {
  static WriteProgress observer;
  return observer;
}

}  // namespace

void SetWriteProgress(WriteProgress observer) { Observer() = std::move(observer); }

void ReportWriteProgress(const std::string& path, uint64_t done, uint64_t total) {
  if (Observer()) Observer()(path, done, total);
}

}  // namespace talkie::io
