// Checkpoint readers. Every reader returns a TensorStore: named TensorViews
// whose bytes live in memory-mapped files kept alive by the store. Readers
// validate everything they parse and throw talkie::Error naming the file and
// the offending tensor / field / entry; they never read out of bounds.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/tensor.h"
#include "io/write_progress.h"

namespace talkie::io {

// Read-only memory map of a whole file (RAII).
class MappedFile {
 public:
  static std::shared_ptr<MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// A set of named tensors plus whatever keeps their bytes alive.
class TensorStore {
 public:
  // nullptr when absent.
  const TensorView* Find(std::string_view name) const;
  const std::vector<TensorView>& tensors() const { return tensors_; }
  // Files the tensors came from (for `talkie info`).
  const std::vector<std::string>& files() const { return files_; }
  // Free-form metadata (safetensors __metadata__), merged over shards.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Building (used by the readers). Add throws on a duplicate name.
  void Add(TensorView view);
  void KeepAlive(std::shared_ptr<const void> owner) { owners_.push_back(std::move(owner)); }
  void AddFile(std::string path) { files_.push_back(std::move(path)); }
  void SetMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

 private:
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::vector<std::string> files_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::shared_ptr<const void>> owners_;
};

// --- safetensors -----------------------------------------------------------
// Parses a safetensors image held in memory. `origin` names it in errors.
// Views point into [data, data + size). Validates: header length within the
// file, JSON well-formed, known dtypes, shape * dtype size == byte length,
// offsets in range, non-overlapping. `metadata` (optional) gets __metadata__.
std::vector<TensorView> ParseSafetensors(const std::byte* data, size_t size,
                                         const std::string& origin,
                                         std::map<std::string, std::string>* metadata);
// One .safetensors file, memory-mapped.
TensorStore LoadSafetensors(const std::string& path);
// Shards listed by a model.safetensors.index.json (weight_map); every listed
// tensor must be found in the shard the index names.
TensorStore LoadSafetensorsIndex(const std::string& index_path);

// A tensor with its own bytes, for writing outputs.
struct OwnedTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<std::byte> bytes;
};
OwnedTensor MakeF32Tensor(std::string name, std::vector<int64_t> shape, const float* values);
// Writes a safetensors file whose tensors are produced one at a time, so a
// file far larger than memory can be written: the header is built from
// `specs`, then produce(i, scratch) returns tensor i's bytes (exactly its
// size): a view of memory the producer holds (written without a copy), or of
// `scratch`, which it may fill (the writer reuses it from tensor to tensor).
// `progress` (optional) hears the bytes written after the header and after
// each tensor.
using TensorBytes =
    std::function<std::span<const std::byte>(size_t index, std::vector<std::byte>& scratch)>;
struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
};
void WriteSafetensorsStreamed(const std::string& path, const std::vector<TensorSpec>& specs,
                              const std::map<std::string, std::string>& metadata,
                              const TensorBytes& produce, const WriteProgress& progress = {});
// Writes a safetensors file (header padded to 8 bytes, tensors in given order).
void WriteSafetensors(const std::string& path, const std::vector<OwnedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      const WriteProgress& progress = {});

// --- PyTorch zip checkpoints (torch.save) ------------------------------------
// Reads <top>/data.pkl and the storages <top>/data/<key> of a PyTorch zip
// checkpoint without executing anything: only the pickle opcodes and globals
// that torch.save of (nested) dicts of tensors produces are accepted
// (torch._utils._rebuild_tensor_v2, torch.*Storage, collections.OrderedDict,
// plain ints / floats / strings / bools / None / lists / tuples / dicts).
// The state dict is the top-level dict, or its "model" / "model_state_dict"
// entry when that is a dict; non-tensor entries are skipped. Tensor names are
// returned as stored (e.g. with "_orig_mod." prefixes). Stored (uncompressed)
// zip entries are memory-mapped; tensors must be contiguous.
TensorStore LoadTorchCheckpoint(const std::string& path);

// Lower-level pieces, exposed for tests and fuzzing.
struct ZipEntry {
  std::string name;
  size_t data_offset = 0;  // of the entry's bytes within the archive
  size_t size = 0;
  bool stored = true;  // false: compressed (unsupported for tensor data)
};
// Parses the central directory of a zip image (ZIP64 included).
std::vector<ZipEntry> ParseZipDirectory(const std::byte* data, size_t size,
                                        const std::string& origin);

// A tensor reference produced by the pickle reader: storage key + layout.
struct PickledTensor {
  std::string name;         // dotted path in the state dict
  std::string storage_key;  // file name under <top>/data/
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
  int64_t storage_offset = 0;  // in elements
};
// Interprets a torch.save pickle stream; returns the tensors of the state dict.
std::vector<PickledTensor> ReadTorchPickle(const std::byte* data, size_t size,
                                           const std::string& origin);

}  // namespace talkie::io
