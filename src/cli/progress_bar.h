// A one-line progress bar on stderr with rate and ETA for long work (writing
// a quantized or synthetic model, capture, perplexity, loading a model that
// needs re-laying or packing). Drawn only when stderr is a terminal, so logs
// and pipes get no carriage-return noise.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "talkie/engine.h"

namespace talkie::cli {

class ProgressBar {
 public:
  // delay_s: a bar appears only once its work has run that long, so work
  // that ends sooner prints nothing (0: drawn from the first update).
  explicit ProgressBar(double delay_s = 0);
  ~ProgressBar() { Finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `done` of `total` bytes for `label`; redrawn at most ~10 times a second,
  // and always at 0 and at completion.
  void Update(const std::string& label, uint64_t done, uint64_t total);
  // The same bar for a count of `unit` (documents, ...) that also shows how
  // many tokens were processed and their rate: "12/30 docs, 4096 tok,
  // 1234.5 tok/s, ETA 0:12" (ETA from the count).
  void UpdateTokens(const std::string& label, uint64_t done, uint64_t total,
                    const std::string& unit, uint64_t tokens);
  // A count of `unit` with its rate: "4096/10240 tok, 1234.5 tok/s, ETA 0:05".
  void UpdateCount(const std::string& label, uint64_t done, uint64_t total,
                   const std::string& unit);
  // Ends the line (if anything was drawn).
  void Finish();

 private:
  using Clock = std::chrono::steady_clock;
  // Whether to draw now (rate limit, new label); sets *elapsed.
  bool Due(const std::string& label, uint64_t done, uint64_t total, double* elapsed);
  static std::string Bar(double fraction);
  bool enabled_ = false;
  double delay_s_ = 0;
  bool started_ = false;  // label_'s work has begun (start_ is set)
  bool drawn_ = false;
  std::string label_;
  Clock::time_point start_, last_draw_;
};

// Shows the writes of a talkie::ProgressCallback (Quantize, ExportGguf,
// WriteSyntheticModel, SaveTensorFile: stage "writing <file name>") on a
// ProgressBar, ending its line when destroyed.
class WriteProgressBar {
 public:
  WriteProgressBar() = default;
  ~WriteProgressBar() { bar_.Finish(); }
  WriteProgressBar(const WriteProgressBar&) = delete;
  WriteProgressBar& operator=(const WriteProgressBar&) = delete;
  // The callback to pass to the writer; valid while this lives.
  ProgressCallback Callback();

 private:
  ProgressBar bar_;
};

// Shows the slow stages of loading a model (talkie::ProgressCallback:
// re-laying a GGUF file, packing weights) on a ProgressBar that appears only
// after the stage has run for a second (TALKIE_PROGRESS_DELAY=SECONDS
// changes that; 0 shows every stage). `on_report` (optional) runs on every
// report first and may throw to abandon the load (talkie serve's SIGTERM).
class LoadProgressBar {
 public:
  explicit LoadProgressBar(std::function<void()> on_report = {});
  ~LoadProgressBar() { bar_.Finish(); }
  LoadProgressBar(const LoadProgressBar&) = delete;
  LoadProgressBar& operator=(const LoadProgressBar&) = delete;
  // The callback to pass to Model::Load / SetPolicy; valid while this lives.
  ProgressCallback Callback();

 private:
  std::function<void()> on_report_;
  ProgressBar bar_;
};

}  // namespace talkie::cli
