// An observer of long file writes: the safetensors and GGUF writers report
// the bytes written so far to the one passed to them (the public API turns a
// talkie::ProgressCallback into one; the command-line program draws a bar).
// Called on the writing thread, between writes; it may throw to abandon the
// file (the destination then keeps its old contents).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace talkie::io {

using WriteProgress = std::function<void(const std::string& path, uint64_t done, uint64_t total)>;

}  // namespace talkie::io
