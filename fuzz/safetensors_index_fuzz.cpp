// libFuzzer target: LoadSafetensorsIndex (model.safetensors.index.json) on
// arbitrary bytes, in a folder that holds two valid shards (a.safetensors
// with tensor "x", b.safetensors with "y") so that inputs naming them get
// past the JSON into the shard checks. Any outcome other than a store or
// talkie::Error is a bug; every view must lie inside its shard's mapping.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/tensor_store.h"

namespace {

namespace io = talkie::io;

const std::string& Folder() {
  static const std::string dir = [] {
    const std::string d = std::filesystem::temp_directory_path().string() + "/talkie_index_fuzz_" +
                          std::to_string(::getpid());
    std::filesystem::create_directories(d);
    const std::vector<float> x(6, 1.0f), y(2, 2.0f);
    io::WriteSafetensors(d + "/a.safetensors", {io::MakeF32Tensor("x", {2, 3}, x.data())});
    io::WriteSafetensors(d + "/b.safetensors", {io::MakeF32Tensor("y", {2}, y.data())});
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string index = Folder() + "/model.safetensors.index.json";
  std::ofstream(index, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    const io::TensorStore store = io::LoadSafetensorsIndex(index);
    for (const io::TensorView& v : store.tensors())
      if (v.name != "x" && v.name != "y") std::abort();  // only what the shards hold
  } catch (const talkie::Error&) {
  }
  return 0;
}
