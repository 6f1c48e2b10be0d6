// libFuzzer target: ParseZipDirectory on arbitrary bytes. Entries returned
// must describe byte ranges inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "io/tensor_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    for (const auto& e :
         talkie::io::ParseZipDirectory(reinterpret_cast<const std::byte*>(data), size, "fuzz")) {
      if (e.data_offset > size || e.size > size - e.data_offset) std::abort();
    }
  } catch (const talkie::Error&) {
  }
  return 0;
}
