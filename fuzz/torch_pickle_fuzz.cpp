// libFuzzer target: ReadTorchPickle on arbitrary bytes (the data.pkl stream
// of a torch.save archive). Must return or throw talkie::Error; never crash,
// hang or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "io/tensor_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    for (const auto& t :
         talkie::io::ReadTorchPickle(reinterpret_cast<const std::byte*>(data), size, "fuzz")) {
      if (t.shape.size() != t.stride.size() || t.storage_offset < 0) std::abort();
    }
  } catch (const talkie::Error&) {
  }
  return 0;
}
