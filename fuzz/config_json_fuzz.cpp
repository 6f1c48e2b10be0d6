// libFuzzer target: ParseConfigJson (config.json of a checkpoint) on
// arbitrary bytes. Any outcome other than a validated config or
// talkie::Error (crash, sanitizer report, other exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const talkie::model::ModelConfig c = talkie::model::ParseConfigJson(text, "fuzz");
    // What the loader relies on once a config is accepted.
    if (c.n_head * c.head_dim != c.n_embd || c.vocab_size <= 0 || c.n_layer <= 0) std::abort();
  } catch (const talkie::Error&) {
  }
  return 0;
}
