// Saving and reading named tensors as a safetensors file (the format
// PyTorch, NumPy and Transformers read): logits, hidden states or captured
// activations written for analysis elsewhere, and read back.
//
//   talkie::TensorFile file;
//   file.metadata["producer"] = "my tool";
//   file.Add("logits", result.logits);                        // F32
//   file.Add("hidden_states.3", result.hidden_states[3], true);  // stored as BF16
//   file.Add("token_ids", ids);                               // I32
//   talkie::SaveTensorFile("out.safetensors", file);
//   talkie::TensorFile back = talkie::LoadTensorFile("out.safetensors");
//   const talkie::Tensor<float>& logits = back.Floats("logits");
//
// The tensors are written in the order they were added (the header lists
// them in that order too), the header is padded to 8 bytes, and the same
// TensorFile always gives the same bytes. Writing goes through a temporary
// file in the same folder renamed into place once complete: an existing file
// (even one another process has memory-mapped) is never truncated, and a
// failed write leaves it as it was.
//
// Errors: talkie::Error naming the file (and the tensor) for a missing or
// unwritable folder, a duplicate or reserved name, a malformed file, or a
// tensor of a type the reader does not convert.
//
// Thread safety: the functions share no state; two calls may not write the
// same path at once. A TensorFile is a plain value (not synchronized).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "talkie/engine.h"
#include "talkie/error.h"
#include "talkie/export.h"
#include "talkie/tensor.h"

namespace talkie {

struct TensorFileEntry {
  std::string name;
  // F32 (or BF16 / F16 when read), I32, I64.
  std::variant<Tensor<float>, Tensor<int32_t>, Tensor<int64_t>> value;
  // Floats only: stored as bfloat16 (rounded to nearest even; half the bytes).
  // LoadTensorFile reports a BF16 tensor with this set.
  bool as_bf16 = false;
};

struct TensorFile {
  std::vector<TensorFileEntry> tensors;         // in file order
  std::map<std::string, std::string> metadata;  // safetensors __metadata__

  void Add(std::string name, Tensor<float> t, bool as_bf16 = false) {
    tensors.push_back({std::move(name), std::move(t), as_bf16});
  }
  void Add(std::string name, Tensor<int32_t> t) {
    tensors.push_back({std::move(name), std::move(t), false});
  }
  void Add(std::string name, Tensor<int64_t> t) {
    tensors.push_back({std::move(name), std::move(t), false});
  }
  // nullptr when no tensor has that name.
  const TensorFileEntry* Find(const std::string& name) const {
    for (const TensorFileEntry& e : tensors)
      if (e.name == name) return &e;
    return nullptr;
  }
  // The named tensor, Error when it is missing or of another element type.
  const Tensor<float>& Floats(const std::string& name) const { return Get<float>(name); }
  const Tensor<int32_t>& Int32s(const std::string& name) const { return Get<int32_t>(name); }
  const Tensor<int64_t>& Int64s(const std::string& name) const { return Get<int64_t>(name); }

 private:
  template <typename T>
  const Tensor<T>& Get(const std::string& name) const {
    const TensorFileEntry* e = Find(name);
    Check(e != nullptr, "tensor file: no tensor '" + name + "'");
    const Tensor<T>* t = std::get_if<Tensor<T>>(&e->value);
    Check(t != nullptr, "tensor file: tensor '" + name + "' has another element type");
    return *t;
  }
};

// Writes `file` to `path` as safetensors. `progress` hears the bytes written
// ("writing <file name>").
TALKIE_API void SaveTensorFile(const std::string& path, const TensorFile& file,
                               const ProgressCallback& progress = {});

// Reads a safetensors file: F32, BF16 and F16 tensors as Tensor<float> (exact
// widening), I32 and I64 as theirs; Error naming the file and tensor for any
// other type.
TALKIE_API TensorFile LoadTensorFile(const std::string& path);

// Only the file's __metadata__ (the header is read; the data is not).
TALKIE_API std::map<std::string, std::string> LoadTensorFileMetadata(const std::string& path);

}  // namespace talkie
