// GGUF, llama.cpp's model file (versions 2 and 3, little-endian): a header,
// typed key/value metadata, a tensor directory, and the aligned tensor data.
// The reader checks every count, length, size and offset against the file
// before using it and throws talkie::Error naming the file and the key /
// tensor at fault; it never reads out of bounds (fuzzed: fuzz/gguf_fuzz.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/tensor_store.h"

namespace talkie::io {

// Metadata value types (gguf_type).
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// One metadata value. Scalars: integers in `i` (unsigned ones too, when they
// fit) / `u`, floats in `f`, bools in `b`, strings in `s`. Arrays (one level;
// GGUF files do not nest them in practice and this reader refuses it): the
// element type and the elements in `ints`, `floats` or `strings`.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  GgufType element_type = GgufType::kUint8;  // arrays only
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  bool b = false;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  uint64_t count = 0;  // array length
};

// Tensor element types (ggml_type) this reader knows the size of.
struct GgmlTypeInfo {
  uint32_t id;
  const char* name;     // "F32", "Q8_0", "Q4_K", ...
  int64_t block_elems;  // values per block (1 for plain types)
  int64_t block_bytes;  // bytes per block
};
// nullptr for an id this reader does not know.
const GgmlTypeInfo* FindGgmlType(uint32_t id);

struct GgufTensor {
  std::string name;
  std::vector<int64_t>
      dims;  // GGUF order: dims[0] varies fastest (a [rows, cols] matrix is {cols, rows})
  const GgmlTypeInfo* type = nullptr;
  uint64_t offset = 0;  // from the start of the file
  uint64_t nbytes = 0;
  const std::byte* data = nullptr;

  int64_t NumElements() const;
};

class GgufFile {
 public:
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::string& origin() const { return origin_; }
  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }

  // nullptr when absent.
  const GgufValue* Find(std::string_view key) const;
  const GgufTensor* FindTensor(std::string_view name) const;
  // Typed lookups: Error naming the key when it is absent or of another kind.
  uint64_t GetUint(std::string_view key) const;  // any non-negative integer type
  double GetFloat(std::string_view key) const;   // float32 / float64 (integers too)
  const std::string& GetString(std::string_view key) const;

  // Parsing (ParseGguf / LoadGguf).
  friend GgufFile ParseGguf(const std::byte* data, size_t size, const std::string& origin);
  friend GgufFile LoadGguf(const std::string& path);

 private:
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::string origin_;
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  std::shared_ptr<MappedFile> file_;  // keeps `data` of the tensors valid
};

// Parses a GGUF image held in memory (the caller keeps it alive); `origin`
// names it in errors.
GgufFile ParseGguf(const std::byte* data, size_t size, const std::string& origin);
// A GGUF file, memory-mapped.
GgufFile LoadGguf(const std::string& path);
// True when the first bytes are GGUF's magic.
bool HasGgufMagic(const std::byte* data, size_t size);

// --- writing ----------------------------------------------------------------
// A metadata entry to write: scalar values use the field of their type, as
// in GgufValue (arrays: element_type + ints / floats / strings).
struct GgufEntry {
  std::string key;
  GgufValue value;
};
GgufEntry GgufString(std::string key, std::string value);
GgufEntry GgufUint32(std::string key, uint32_t value);
GgufEntry GgufFloat32(std::string key, float value);
GgufEntry GgufStringArray(std::string key, std::vector<std::string> values);

struct GgufTensorToWrite {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order (dims[0] fastest)
  uint32_t type = 0;          // ggml_type id
  std::vector<std::byte> bytes;
};
// A tensor to write by its size, its bytes produced when its turn comes.
struct GgufTensorSpec {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order (dims[0] fastest)
  uint32_t type = 0;          // ggml_type id
  uint64_t nbytes = 0;
};
// Writes a version-3 GGUF file (alignment 32, or general.alignment if given)
// through a temporary file renamed into place.
void WriteGguf(const std::string& path, const std::vector<GgufEntry>& metadata,
               const std::vector<GgufTensorToWrite>& tensors);
// The same, one tensor in memory at a time: produce(i, bytes) fills tensor
// i's bytes (exactly nbytes; an Error otherwise, and nothing is written).
// `progress` (optional) hears the bytes written after the header and after
// each tensor.
void WriteGgufStreamed(const std::string& path, const std::vector<GgufEntry>& metadata,
                       const std::vector<GgufTensorSpec>& tensors,
                       const std::function<void(size_t, std::vector<std::byte>&)>& produce,
                       const WriteProgress& progress = {});
// The same bytes in memory (tests, fuzz seeds).
std::string SerializeGguf(const std::vector<GgufEntry>& metadata,
                          const std::vector<GgufTensorToWrite>& tensors);

}  // namespace talkie::io
