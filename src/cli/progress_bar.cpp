// Progress bar (see progress_bar.h).
#include "cli/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "io/write_progress.h"

namespace talkie::cli {
namespace {

std::string Duration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  return text;
}

}  // namespace

ProgressBar::ProgressBar() : enabled_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::Update(const std::string& label, uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  const Clock::time_point now = Clock::now();
  if (label != label_ || !drawn_) {
    if (drawn_) Finish();
    label_ = label;
    start_ = now;
  } else if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  drawn_ = true;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const std::string eta =
      rate > 0 ? Duration(static_cast<double>(total - done) / rate) : std::string("-:--");
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '-');
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %.1f/%.1f MB, %.1f MB/s, ETA %s\x1b[K", label_.c_str(),
               bar.c_str(), 100.0 * fraction, done / 1e6, total / 1e6, rate / 1e6, eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\n");
  drawn_ = false;
  label_.clear();
}

ScopedWriteProgress::ScopedWriteProgress() {
  io::SetWriteProgress([this](const std::string& path, uint64_t done, uint64_t total) {
    bar_.Update("writing " + std::filesystem::path(path).filename().string(), done, total);
  });
}

ScopedWriteProgress::~ScopedWriteProgress() {
  io::SetWriteProgress({});
  bar_.Finish();
}

}  // namespace talkie::cli
