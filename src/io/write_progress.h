// An observer of long file writes: the safetensors writer reports the bytes
// written so far, and the command-line program draws a progress bar from it.
// Process-wide and single-threaded (set around one write); none by default.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace talkie::io {

using WriteProgress = std::function<void(const std::string& path, uint64_t done, uint64_t total)>;

// Installs `observer` (an empty function removes it).
void SetWriteProgress(WriteProgress observer);
// Called by the writers.
void ReportWriteProgress(const std::string& path, uint64_t done, uint64_t total);

}  // namespace talkie::io
