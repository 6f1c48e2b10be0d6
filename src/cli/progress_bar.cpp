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

bool ProgressBar::Due(const std::string& label, uint64_t done, uint64_t total, double* elapsed) {
  if (!enabled_ || total == 0) return false;
  const Clock::time_point now = Clock::now();
  if (label != label_ || !drawn_) {
    if (drawn_) Finish();
    label_ = label;
    start_ = now;
  } else if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) {
    return false;
  }
  last_draw_ = now;
  drawn_ = true;
  *elapsed = std::chrono::duration<double>(now - start_).count();
  return true;
}

std::string ProgressBar::Bar(double fraction) {
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  return std::string(filled, '#') + std::string(kWidth - filled, '-');
}

void ProgressBar::Update(const std::string& label, uint64_t done, uint64_t total) {
  double elapsed = 0;
  if (!Due(label, done, total, &elapsed)) return;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const std::string eta =
      rate > 0 ? Duration(static_cast<double>(total - done) / rate) : std::string("-:--");
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %.1f/%.1f MB, %.1f MB/s, ETA %s\x1b[K", label_.c_str(),
               Bar(fraction).c_str(), 100.0 * fraction, done / 1e6, total / 1e6, rate / 1e6,
               eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::UpdateTokens(const std::string& label, uint64_t done, uint64_t total,
                               const std::string& unit, uint64_t tokens) {
  double elapsed = 0;
  if (!Due(label, done, total, &elapsed)) return;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double token_rate = elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0.0;
  const std::string eta =
      rate > 0 ? Duration(static_cast<double>(total - done) / rate) : std::string("-:--");
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %llu/%llu %s, %llu tok, %.1f tok/s, ETA %s\x1b[K",
               label_.c_str(), Bar(fraction).c_str(), 100.0 * fraction,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               unit.c_str(), static_cast<unsigned long long>(tokens), token_rate, eta.c_str());
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
