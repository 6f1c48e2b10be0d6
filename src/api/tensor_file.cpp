// Public safetensors save / load (talkie/tensor_file.h) over io/tensor_store.h.
#include "talkie/tensor_file.h"

#include <cstring>
#include <filesystem>

#include "common/number_formats.h"
#include "io/tensor_store.h"

namespace talkie {
namespace {

io::DType StoredType(const TensorFileEntry& e) {
  if (std::holds_alternative<Tensor<int32_t>>(e.value)) return io::DType::kI32;
  if (std::holds_alternative<Tensor<int64_t>>(e.value)) return io::DType::kI64;
  return e.as_bf16 ? io::DType::kBF16 : io::DType::kF32;
}

const std::vector<int64_t>& ShapeOf(const TensorFileEntry& e) {
  return std::visit([](const auto& t) -> const std::vector<int64_t>& { return t.shape(); },
                    e.value);
}

// The entry's bytes as stored: its own memory, or (bf16) rounded into `out`.
std::span<const std::byte> Serialize(const TensorFileEntry& e, std::vector<std::byte>& out) {
  if (const auto* f = std::get_if<Tensor<float>>(&e.value); f != nullptr && e.as_bf16) {
    out.resize(f->size() * 2);
    for (size_t i = 0; i < f->size(); ++i) {
      const uint16_t h = FloatToBf16(f->data()[i]);
      std::memcpy(&out[2 * i], &h, 2);
    }
    return out;
  }
  return std::visit([](const auto& t) { return std::as_bytes(std::span(t.data(), t.size())); },
                    e.value);
}

template <typename T>
Tensor<T> CopyOut(const io::TensorView& v) {
  std::vector<T> values(static_cast<size_t>(v.NumElements()));
  if (!values.empty()) std::memcpy(values.data(), v.data, values.size() * sizeof(T));
  return Tensor<T>(v.shape, std::move(values));
}

}  // namespace

void SaveTensorFile(const std::string& path, const TensorFile& file,
                    const ProgressCallback& progress) {
  std::vector<io::TensorSpec> specs;
  for (const TensorFileEntry& e : file.tensors)
    specs.push_back({e.name, StoredType(e), ShapeOf(e)});
  io::WriteProgress observer;
  if (progress)
    observer = [&progress](const std::string& p, uint64_t done, uint64_t total) {
      progress("writing " + std::filesystem::path(p).filename().string(), done, total);
    };
  io::WriteSafetensorsStreamed(
      path, specs, file.metadata,
      [&file](size_t i, std::vector<std::byte>& out) { return Serialize(file.tensors[i], out); },
      observer);
}

TensorFile LoadTensorFile(const std::string& path) {
  const io::TensorStore store = io::LoadSafetensors(path);
  TensorFile file;
  file.metadata = store.metadata();
  for (const io::TensorView& v : store.tensors()) {
    switch (v.dtype) {
      case io::DType::kF32:
        file.Add(v.name, CopyOut<float>(v));
        break;
      case io::DType::kI32:
        file.Add(v.name, CopyOut<int32_t>(v));
        break;
      case io::DType::kI64:
        file.Add(v.name, CopyOut<int64_t>(v));
        break;
      case io::DType::kBF16:
      case io::DType::kF16: {
        Tensor<float> t(v.shape);
        for (int64_t i = 0; i < v.NumElements(); ++i) t.data()[i] = io::ElementAsFloat(v, i);
        file.Add(v.name, std::move(t), v.dtype == io::DType::kBF16);
        break;
      }
      default:
        throw Error(path + ": tensor '" + v.name + "' is " + std::string(io::DTypeName(v.dtype)) +
                    "; LoadTensorFile reads F32, BF16, F16, I32 and I64");
    }
  }
  return file;
}

std::map<std::string, std::string> LoadTensorFileMetadata(const std::string& path) {
  return io::LoadSafetensors(path).metadata();
}

}  // namespace talkie
