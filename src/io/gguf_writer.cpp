// GGUF writer (see gguf.h): version 3, little-endian, tensors aligned.
#include <cstring>
#include <functional>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/gguf.h"

namespace talkie::io {
namespace {

template <typename T>
void Put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void PutString(std::string& out, const std::string& s) {
  Put<uint64_t>(out, s.size());
  out += s;
}

void PutScalar(std::string& out, GgufType t, const GgufValue& v, size_t k = SIZE_MAX) {
  // Array elements live in ints / floats / strings by kind; scalars in i / u / f.
  const bool elem = k != SIZE_MAX;
  const bool is_float = t == GgufType::kFloat32 || t == GgufType::kFloat64;
  const bool is_int = !is_float && t != GgufType::kString;
  const int64_t i = !elem ? v.i : is_int ? v.ints[k] : 0;
  const uint64_t u = !elem ? v.u : is_int ? static_cast<uint64_t>(v.ints[k]) : 0;
  const double f = !elem ? v.f : is_float ? v.floats[k] : 0;
  switch (t) {
    case GgufType::kUint8:
      Put<uint8_t>(out, static_cast<uint8_t>(u));
      break;
    case GgufType::kInt8:
      Put<int8_t>(out, static_cast<int8_t>(i));
      break;
    case GgufType::kUint16:
      Put<uint16_t>(out, static_cast<uint16_t>(u));
      break;
    case GgufType::kInt16:
      Put<int16_t>(out, static_cast<int16_t>(i));
      break;
    case GgufType::kUint32:
      Put<uint32_t>(out, static_cast<uint32_t>(u));
      break;
    case GgufType::kInt32:
      Put<int32_t>(out, static_cast<int32_t>(i));
      break;
    case GgufType::kUint64:
      Put<uint64_t>(out, u);
      break;
    case GgufType::kInt64:
      Put<int64_t>(out, i);
      break;
    case GgufType::kFloat32:
      Put<float>(out, static_cast<float>(f));
      break;
    case GgufType::kFloat64:
      Put<double>(out, f);
      break;
    case GgufType::kBool:
      Put<uint8_t>(out, elem ? v.ints[k] != 0 : v.b);
      break;
    case GgufType::kString:
      PutString(out, elem ? v.strings[k] : v.s);
      break;
    default:
      throw Error("gguf writer: unsupported value type");
  }
}

}  // namespace

GgufEntry GgufString(std::string key, std::string value) {
  GgufEntry e{std::move(key), {}};
  e.value.type = GgufType::kString;
  e.value.s = std::move(value);
  return e;
}
GgufEntry GgufUint32(std::string key, uint32_t value) {
  GgufEntry e{std::move(key), {}};
  e.value.type = GgufType::kUint32;
  e.value.u = value;
  return e;
}
GgufEntry GgufFloat32(std::string key, float value) {
  GgufEntry e{std::move(key), {}};
  e.value.type = GgufType::kFloat32;
  e.value.f = value;
  return e;
}
GgufEntry GgufStringArray(std::string key, std::vector<std::string> values) {
  GgufEntry e{std::move(key), {}};
  e.value.type = GgufType::kArray;
  e.value.element_type = GgufType::kString;
  e.value.strings = std::move(values);
  return e;
}

namespace {

uint64_t AlignmentOf(const std::vector<GgufEntry>& metadata) {
  uint64_t alignment = 32;
  for (const GgufEntry& e : metadata)
    if (e.key == "general.alignment") alignment = e.value.u;
  Check(alignment > 0 && (alignment & (alignment - 1)) == 0,
        "gguf writer: general.alignment must be a power of two");
  return alignment;
}

// Everything before the first tensor's data: header, metadata, tensor infos
// (offsets from the tensors' byte counts), padded to the alignment.
std::string Header(const std::vector<GgufEntry>& metadata,
                   const std::vector<GgufTensorSpec>& tensors) {
  const uint64_t alignment = AlignmentOf(metadata);
  std::string out = "GGUF";
  Put<uint32_t>(out, 3);
  Put<uint64_t>(out, tensors.size());
  Put<uint64_t>(out, metadata.size());
  for (const GgufEntry& e : metadata) {
    PutString(out, e.key);
    Put<uint32_t>(out, static_cast<uint32_t>(e.value.type));
    if (e.value.type != GgufType::kArray) {
      PutScalar(out, e.value.type, e.value);
      continue;
    }
    Put<uint32_t>(out, static_cast<uint32_t>(e.value.element_type));
    const size_t n =
        e.value.element_type == GgufType::kString ? e.value.strings.size()
        : (e.value.element_type == GgufType::kFloat32 || e.value.element_type == GgufType::kFloat64)
            ? e.value.floats.size()
            : e.value.ints.size();
    Put<uint64_t>(out, n);
    for (size_t k = 0; k < n; ++k) PutScalar(out, e.value.element_type, e.value, k);
  }
  uint64_t offset = 0;
  for (const GgufTensorSpec& t : tensors) {
    PutString(out, t.name);
    Put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) Put<uint64_t>(out, static_cast<uint64_t>(d));
    Put<uint32_t>(out, t.type);
    Put<uint64_t>(out, offset);
    offset += (t.nbytes + alignment - 1) / alignment * alignment;
  }
  out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
  return out;
}

std::vector<GgufTensorSpec> SpecsOf(const std::vector<GgufTensorToWrite>& tensors) {
  std::vector<GgufTensorSpec> specs;
  for (const GgufTensorToWrite& t : tensors)
    specs.push_back({t.name, t.dims, t.type, t.bytes.size()});
  return specs;
}

}  // namespace

std::string SerializeGguf(const std::vector<GgufEntry>& metadata,
                          const std::vector<GgufTensorToWrite>& tensors) {
  const uint64_t alignment = AlignmentOf(metadata);
  std::string out = Header(metadata, SpecsOf(tensors));
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i > 0) out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
    out.append(reinterpret_cast<const char*>(tensors[i].bytes.data()), tensors[i].bytes.size());
  }
  return out;
}

void WriteGguf(const std::string& path, const std::vector<GgufEntry>& metadata,
               const std::vector<GgufTensorToWrite>& tensors) {
  WriteFileAtomically(path, SerializeGguf(metadata, tensors));
}

void WriteGgufStreamed(const std::string& path, const std::vector<GgufEntry>& metadata,
                       const std::vector<GgufTensorSpec>& tensors,
                       const std::function<void(size_t, std::vector<std::byte>&)>& produce,
                       const WriteProgress& progress) {
  const uint64_t alignment = AlignmentOf(metadata);
  AtomicFile file(path);
  const std::string header = Header(metadata, tensors);
  uint64_t total = header.size(), done = header.size();
  for (size_t i = 0; i < tensors.size(); ++i)
    total += tensors[i].nbytes +
             (i + 1 < tensors.size() ? (alignment - tensors[i].nbytes % alignment) % alignment : 0);
  if (progress) progress(path, 0, total);
  file.Write(header);
  std::vector<std::byte> bytes;
  const std::string padding(alignment, '\0');
  for (size_t i = 0; i < tensors.size(); ++i) {
    bytes.clear();
    produce(i, bytes);
    Check(bytes.size() == tensors[i].nbytes,
          "gguf writer: tensor '" + tensors[i].name + "' came out as " +
              std::to_string(bytes.size()) + " bytes, not " + std::to_string(tensors[i].nbytes));
    file.Write(bytes.data(), bytes.size());
    done += bytes.size();
    if (i + 1 < tensors.size()) {
      const uint64_t pad = (alignment - bytes.size() % alignment) % alignment;
      file.Write(padding.data(), pad);
      done += pad;
    }
    if (progress) progress(path, done, total);
  }
  file.Commit();
}

}  // namespace talkie::io
