// libFuzzer target: ParseSafetensors on arbitrary bytes. Any outcome other
// than a result or talkie::Error (crash, sanitizer report, other exception)
// is a bug; returned views must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>

#include "common/error.h"
#include "io/tensor_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  try {
    std::map<std::string, std::string> metadata;
    for (const auto& view : talkie::io::ParseSafetensors(bytes, size, "fuzz", &metadata)) {
      if (view.data < bytes || view.nbytes > size || view.data + view.nbytes > bytes + size) {
        std::abort();
      }
    }
  } catch (const talkie::Error&) {
  }
  return 0;
}
