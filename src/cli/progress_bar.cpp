// Progress bar (see progress_bar.h).
#include "cli/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace talkie::cli {
namespace {

std::string Duration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  return text;
}

// Seconds a loading stage runs before its bar appears: 1, or
// TALKIE_PROGRESS_DELAY when it is a number >= 0.
double LoadBarDelay() {
  const char* env = std::getenv("TALKIE_PROGRESS_DELAY");
  if (env == nullptr || *env == '\0') return 1.0;
  char* end = nullptr;
  const double delay = std::strtod(env, &end);
  return *end == '\0' && delay >= 0 && delay < 1e9 ? delay : 1.0;
}

}  // namespace

ProgressBar::ProgressBar(double delay_s)
    : enabled_(::isatty(STDERR_FILENO) == 1), delay_s_(delay_s) {}

bool ProgressBar::Due(const std::string& label, uint64_t done, uint64_t total, double* elapsed) {
  if (!enabled_ || total == 0) return false;
  const Clock::time_point now = Clock::now();
  if (!started_ || label != label_) {
    Finish();
    label_ = label;
    start_ = now;
    started_ = true;
  } else if (drawn_ && done < total && now - last_draw_ < std::chrono::milliseconds(100)) {
    return false;
  }
  *elapsed = std::chrono::duration<double>(now - start_).count();
  if (!drawn_ && *elapsed < delay_s_) return false;  // not long enough to show
  last_draw_ = now;
  drawn_ = true;
  return true;
}

namespace {

// Fraction done, rate (units per second) and the time left, for a line.
struct Pace {
  double fraction, rate;
  std::string eta;
};
Pace PaceOf(uint64_t done, uint64_t total, double elapsed) {
  Pace p;
  p.fraction = static_cast<double>(done) / static_cast<double>(total);
  p.rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  p.eta = p.rate > 0 ? Duration(static_cast<double>(total - done) / p.rate) : std::string("-:--");
  return p;
}

}  // namespace

std::string ProgressBar::Bar(double fraction) {
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  return std::string(filled, '#') + std::string(kWidth - filled, '-');
}

void ProgressBar::Update(const std::string& label, uint64_t done, uint64_t total) {
  double elapsed = 0;
  if (!Due(label, done, total, &elapsed)) return;
  const Pace pace = PaceOf(done, total, elapsed);
  const double fraction = pace.fraction, rate = pace.rate;
  const std::string& eta = pace.eta;
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %.1f/%.1f MB, %.1f MB/s, ETA %s\x1b[K", label_.c_str(),
               Bar(fraction).c_str(), 100.0 * fraction, done / 1e6, total / 1e6, rate / 1e6,
               eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::UpdateTokens(const std::string& label, uint64_t done, uint64_t total,
                               const std::string& unit, uint64_t tokens) {
  double elapsed = 0;
  if (!Due(label, done, total, &elapsed)) return;
  const Pace pace = PaceOf(done, total, elapsed);
  const double fraction = pace.fraction;
  const double token_rate = elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0.0;
  const std::string& eta = pace.eta;
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %llu/%llu %s, %llu tok, %.1f tok/s, ETA %s\x1b[K",
               label_.c_str(), Bar(fraction).c_str(), 100.0 * fraction,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               unit.c_str(), static_cast<unsigned long long>(tokens), token_rate, eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::UpdateCount(const std::string& label, uint64_t done, uint64_t total,
                              const std::string& unit) {
  double elapsed = 0;
  if (!Due(label, done, total, &elapsed)) return;
  const Pace pace = PaceOf(done, total, elapsed);
  const double fraction = pace.fraction, rate = pace.rate;
  const std::string& eta = pace.eta;
  std::fprintf(stderr, "\r%s [%s] %3.0f%% %llu/%llu %s, %.1f %s/s, ETA %s\x1b[K", label_.c_str(),
               Bar(fraction).c_str(), 100.0 * fraction, static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total), unit.c_str(), rate, unit.c_str(),
               eta.c_str());
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
  started_ = false;
  label_.clear();
}

ProgressCallback WriteProgressBar::Callback() {
  return [this](const std::string& stage, uint64_t done, uint64_t total) {
    bar_.Update(stage, done, total);
  };
}

LoadProgressBar::LoadProgressBar(std::function<void()> on_report)
    : on_report_(std::move(on_report)), bar_(LoadBarDelay()) {}

ProgressCallback LoadProgressBar::Callback() {
  return [this](const std::string& stage, uint64_t done, uint64_t total) {
    if (on_report_) on_report_();
    bar_.Update(stage, done, total);
  };
}

}  // namespace talkie::cli
