// libFuzzer target: ParseGguf on arbitrary bytes, then the tokenizer reader
// (VocabFromGguf) on what parsed. Any outcome other than a result or
// talkie::Error (crash, sanitizer report, other exception) is a bug; every
// tensor it returns must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "io/gguf.h"
#include "tokenizer/vocab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  try {
    const talkie::io::GgufFile f = talkie::io::ParseGguf(bytes, size, "fuzz");
    for (const auto& t : f.tensors())
      if (t.data < bytes || t.nbytes > size || t.data + t.nbytes > bytes + size) std::abort();
    if (f.Find("tokenizer.ggml.tokens")) talkie::tokenizer::VocabFromGguf(f);
  } catch (const talkie::Error&) {
  }
  return 0;
}
