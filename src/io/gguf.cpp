// GGUF reader (see gguf.h). A bounds-checked cursor walks the header, the
// metadata and the tensor directory; every count is checked against the bytes
// left before anything is reserved, so a hostile file cannot make it allocate
// more than the file could describe.
#include "io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/error.h"

namespace talkie::io {
namespace {

constexpr GgmlTypeInfo kGgmlTypes[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {20, "IQ4_NL", 32, 18}, {24, "I8", 1, 1},
    {25, "I16", 1, 2},      {26, "I32", 1, 4},      {27, "I64", 1, 8},      {28, "F64", 1, 8},
    {30, "BF16", 1, 2},
};

constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

// Reads little-endian values from [data, data + size), throwing on overrun.
class Cursor {
 public:
  Cursor(const std::byte* data, size_t size, const std::string& origin)
      : data_(data), size_(size), origin_(origin) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  void Need(uint64_t n, const std::string& what) const {
    if (n > left())
      throw Error(origin_ + ": truncated GGUF file: " + what + " needs " + std::to_string(n) +
                  " bytes at offset " + std::to_string(pos_) + ", " + std::to_string(left()) +
                  " left");
  }
  template <typename T>
  T Read(const std::string& what) {
    Need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string ReadString(const std::string& what) {
    const auto n = Read<uint64_t>(what + " length");
    Need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }

 private:
  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& origin_;
};

// Bytes of one scalar of type t; 0 for strings / arrays / unknown types.
size_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    default:
      return 0;
  }
}

bool IsKnownType(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }
bool IsInteger(GgufType t) {
  return t != GgufType::kFloat32 && t != GgufType::kFloat64 && t != GgufType::kBool &&
         ScalarSize(t) != 0;
}
bool IsSigned(GgufType t) {
  return t == GgufType::kInt8 || t == GgufType::kInt16 || t == GgufType::kInt32 ||
         t == GgufType::kInt64;
}

// One scalar of type t into v (i / u / f / b / s).
void ReadScalar(Cursor& in, GgufType t, GgufValue& v, const std::string& what) {
  switch (t) {
    case GgufType::kUint8:
      v.u = in.Read<uint8_t>(what);
      break;
    case GgufType::kInt8:
      v.i = in.Read<int8_t>(what);
      break;
    case GgufType::kUint16:
      v.u = in.Read<uint16_t>(what);
      break;
    case GgufType::kInt16:
      v.i = in.Read<int16_t>(what);
      break;
    case GgufType::kUint32:
      v.u = in.Read<uint32_t>(what);
      break;
    case GgufType::kInt32:
      v.i = in.Read<int32_t>(what);
      break;
    case GgufType::kUint64:
      v.u = in.Read<uint64_t>(what);
      break;
    case GgufType::kInt64:
      v.i = in.Read<int64_t>(what);
      break;
    case GgufType::kFloat32:
      v.f = in.Read<float>(what);
      break;
    case GgufType::kFloat64:
      v.f = in.Read<double>(what);
      break;
    case GgufType::kBool: {
      const auto b = in.Read<uint8_t>(what);
      if (b > 1) throw Error(what + ": bool value " + std::to_string(b) + " (must be 0 or 1)");
      v.b = b != 0;
      break;
    }
    case GgufType::kString:
      v.s = in.ReadString(what);
      break;
    default:
      throw Error(what + ": unexpected value type");
  }
  if (IsInteger(t)) {
    if (IsSigned(t)) {
      v.u = v.i >= 0 ? static_cast<uint64_t>(v.i) : 0;
    } else {
      v.i = v.u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                ? static_cast<int64_t>(v.u)
                : std::numeric_limits<int64_t>::max();
    }
    v.f = IsSigned(t) ? static_cast<double>(v.i) : static_cast<double>(v.u);
  }
}

GgufValue ReadValue(Cursor& in, const std::string& key, const std::string& origin) {
  const std::string what = origin + ": metadata '" + key + "'";
  const auto type = in.Read<uint32_t>(what + " type");
  if (!IsKnownType(type)) throw Error(what + ": unknown value type " + std::to_string(type));
  GgufValue v;
  v.type = static_cast<GgufType>(type);
  if (v.type != GgufType::kArray) {
    ReadScalar(in, v.type, v, what);
    return v;
  }
  const auto elem = in.Read<uint32_t>(what + " array element type");
  if (!IsKnownType(elem))
    throw Error(what + ": unknown array element type " + std::to_string(elem));
  v.element_type = static_cast<GgufType>(elem);
  if (v.element_type == GgufType::kArray) throw Error(what + ": nested arrays are not supported");
  v.count = in.Read<uint64_t>(what + " array length");
  // Each element takes at least this many bytes: bound the count by the file.
  const size_t min_size = v.element_type == GgufType::kString ? 8 : ScalarSize(v.element_type);
  if (v.count > in.left() / min_size)
    throw Error(what + ": array of " + std::to_string(v.count) + " elements does not fit in the " +
                std::to_string(in.left()) + " bytes left");
  const auto n = static_cast<size_t>(v.count);
  GgufValue e;
  if (v.element_type == GgufType::kString) {
    v.strings.reserve(n);
    for (size_t k = 0; k < n; ++k) v.strings.push_back(in.ReadString(what + " element"));
  } else if (v.element_type == GgufType::kFloat32 || v.element_type == GgufType::kFloat64) {
    v.floats.reserve(n);
    for (size_t k = 0; k < n; ++k) {
      ReadScalar(in, v.element_type, e, what);
      v.floats.push_back(e.f);
    }
  } else {
    v.ints.reserve(n);
    for (size_t k = 0; k < n; ++k) {
      ReadScalar(in, v.element_type, e, what);
      v.ints.push_back(v.element_type == GgufType::kBool ? e.b : e.i);
    }
  }
  return v;
}

}  // namespace

const GgmlTypeInfo* FindGgmlType(uint32_t id) {
  for (const GgmlTypeInfo& t : kGgmlTypes)
    if (t.id == id) return &t;
  return nullptr;
}

int64_t GgufTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

bool HasGgufMagic(const std::byte* data, size_t size) {
  return size >= 4 && std::memcmp(data, "GGUF", 4) == 0;
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t GgufFile::GetUint(std::string_view key) const {
  const GgufValue* v = Find(key);
  Check(v != nullptr, origin_ + ": metadata '" + std::string(key) + "' is missing");
  Check(IsInteger(v->type) && (!IsSigned(v->type) || v->i >= 0),
        origin_ + ": metadata '" + std::string(key) + "' must be a non-negative integer");
  return v->u;
}

double GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  Check(v != nullptr, origin_ + ": metadata '" + std::string(key) + "' is missing");
  Check(v->type == GgufType::kFloat32 || v->type == GgufType::kFloat64 || IsInteger(v->type),
        origin_ + ": metadata '" + std::string(key) + "' must be a number");
  return v->f;
}

const std::string& GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  Check(v != nullptr, origin_ + ": metadata '" + std::string(key) + "' is missing");
  Check(v->type == GgufType::kString,
        origin_ + ": metadata '" + std::string(key) + "' must be a string");
  return v->s;
}

GgufFile ParseGguf(const std::byte* data, size_t size, const std::string& origin) {
  GgufFile f;
  f.origin_ = origin;
  Cursor in(data, size, origin);
  Check(HasGgufMagic(data, size), origin + ": not a GGUF file (no 'GGUF' magic)");
  in.Read<uint32_t>("magic");
  f.version_ = in.Read<uint32_t>("version");
  if (f.version_ != 2 && f.version_ != 3) {
    const bool swapped = (f.version_ & 0xffff) == 0 && f.version_ != 0;
    throw Error(origin + (swapped ? ": a big-endian GGUF file (only little-endian is supported)"
                                  : ": GGUF version " + std::to_string(f.version_) +
                                        " is not supported (versions 2 and 3 are)"));
  }
  const auto n_tensors = in.Read<uint64_t>("tensor count");
  const auto n_kv = in.Read<uint64_t>("metadata count");
  // A key/value takes >= 8 (key length) + 4 (type) + 1 bytes; a tensor >= 8 + 4 + 8 + 4 + 8.
  Check(n_kv <= in.left() / 13,
        origin + ": metadata count " + std::to_string(n_kv) + " does not fit in the file");
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = in.ReadString("metadata key " + std::to_string(k));
    Check(!key.empty(), origin + ": metadata key " + std::to_string(k) + " is empty");
    GgufValue value = ReadValue(in, key, origin);
    Check(f.metadata_.find(key) == f.metadata_.end(),
          origin + ": metadata '" + key + "' appears twice");
    f.metadata_.emplace(std::move(key), std::move(value));
  }
  if (const GgufValue* a = f.Find("general.alignment")) {
    Check(a->type == GgufType::kUint32 && a->u > 0 && (a->u & (a->u - 1)) == 0,
          origin + ": general.alignment must be a power of two (uint32)");
    f.alignment_ = a->u;
  }

  Check(n_tensors <= in.left() / 32,
        origin + ": tensor count " + std::to_string(n_tensors) + " does not fit in the file");
  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensor t;
    t.name = in.ReadString("tensor name " + std::to_string(k));
    const std::string what = origin + ": tensor '" + t.name + "'";
    const auto n_dims = in.Read<uint32_t>(what + " dimension count");
    Check(n_dims >= 1 && n_dims <= kMaxDims,
          what + ": " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto dim = in.Read<uint64_t>(what + " dimension");
      Check(dim >= 1 && dim <= (uint64_t{1} << 40),
            what + ": dimension " + std::to_string(d) + " is " + std::to_string(dim));
      Check(elements <= (uint64_t{1} << 48) / dim, what + ": too many elements");
      elements *= dim;
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    const auto type = in.Read<uint32_t>(what + " type");
    t.type = FindGgmlType(type);
    Check(t.type != nullptr, what + ": unknown tensor type " + std::to_string(type));
    Check(t.dims[0] % t.type->block_elems == 0,
          what + ": row length " + std::to_string(t.dims[0]) + " is not a multiple of " +
              t.type->name + "'s block of " + std::to_string(t.type->block_elems));
    t.nbytes = elements / static_cast<uint64_t>(t.type->block_elems) *
               static_cast<uint64_t>(t.type->block_bytes);
    t.offset = in.Read<uint64_t>(what + " offset");
    Check(t.offset % f.alignment_ == 0, what + ": offset " + std::to_string(t.offset) +
                                            " is not aligned to " + std::to_string(f.alignment_));
    Check(f.tensor_index_.find(t.name) == f.tensor_index_.end(),
          origin + ": tensor '" + t.name + "' appears twice");
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t data_start = (in.pos() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  Check(data_start <= size || f.tensors_.empty(),
        origin + ": truncated GGUF file: no tensor data section");
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  std::vector<const GgufTensor*> by_offset;
  for (GgufTensor& t : f.tensors_) {
    Check(t.offset <= data_size && t.nbytes <= data_size - t.offset,
          origin + ": tensor '" + t.name + "' (" + std::to_string(t.nbytes) + " bytes at " +
              std::to_string(t.offset) + ") runs past the end of the file");
    t.offset += data_start;
    t.data = data + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k)
    Check(by_offset[k - 1]->offset + by_offset[k - 1]->nbytes <= by_offset[k]->offset,
          origin + ": tensors '" + by_offset[k - 1]->name + "' and '" + by_offset[k]->name +
              "' overlap");
  return f;
}

GgufFile LoadGguf(const std::string& path) {
  std::shared_ptr<MappedFile> file = MappedFile::Open(path);
  GgufFile f = ParseGguf(file->data(), file->size(), path);
  f.file_ = std::move(file);
  return f;
}

}  // namespace talkie::io
