// safetensors reader / writer: single files, sharded index files, and the
// writer used for outputs. Every field of the header is validated before a
// TensorView is made, so views never point outside the mapped file.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/tensor_store.h"
#include "io/write_progress.h"

namespace talkie::io {

namespace {

using nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we, so a
// lying length cannot make us parse (and allocate for) gigabytes of JSON.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

uint64_t ReadLe64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Byte size of `shape` of `dtype`; false on overflow.
bool ByteSize(const std::vector<int64_t>& shape, DType dtype, uint64_t* out) {
  uint64_t n = DTypeSize(dtype);
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  *out = n;
  return true;
}

struct Entry {
  TensorView view;
  uint64_t begin = 0, end = 0;
};

Entry ParseEntry(const std::string& origin, const std::string& name, const json& value) {
  const std::string where = origin + ": tensor '" + name + "'";
  Check(value.is_object(), where + ": header entry is not a JSON object");
  Entry e;
  e.view.name = name;

  auto dtype_it = value.find("dtype");
  Check(dtype_it != value.end() && dtype_it->is_string(), where + ": missing string 'dtype'");
  const auto& dtype_name = dtype_it->get_ref<const std::string&>();
  Check(ParseDType(dtype_name, &e.view.dtype), where + ": unknown dtype '" + dtype_name + "'");

  auto shape_it = value.find("shape");
  Check(shape_it != value.end() && shape_it->is_array(), where + ": missing list 'shape'");
  for (const json& d : *shape_it) {
    Check(d.is_number_unsigned() && d.get<uint64_t>() <= uint64_t{INT64_MAX},
          where + ": shape " + shape_it->dump() + " is not a list of non-negative integers");
    e.view.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }

  auto off_it = value.find("data_offsets");
  Check(off_it != value.end() && off_it->is_array() && off_it->size() == 2 &&
            (*off_it)[0].is_number_unsigned() && (*off_it)[1].is_number_unsigned(),
        where + ": 'data_offsets' must be a list of two non-negative integers");
  e.begin = (*off_it)[0].get<uint64_t>();
  e.end = (*off_it)[1].get<uint64_t>();
  Check(e.begin <= e.end, where + ": data_offsets [" + std::to_string(e.begin) + ", " +
                              std::to_string(e.end) + ") begin after end");

  uint64_t needed = 0;
  Check(ByteSize(e.view.shape, e.view.dtype, &needed),
        where + ": shape " + ShapeString(e.view.shape) + " overflows");
  Check(e.end - e.begin == needed,
        where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
            ") hold " + std::to_string(e.end - e.begin) + " bytes but shape " +
            ShapeString(e.view.shape) + " of " + std::string(DTypeName(e.view.dtype)) + " needs " +
            std::to_string(needed));
  e.view.nbytes = static_cast<size_t>(needed);
  return e;
}

// Reads a small text file (the shard index) into memory.
std::string ReadTextFile(const std::string& path) {
  auto file = MappedFile::Open(path);
  return std::string(reinterpret_cast<const char*>(file->data()), file->size());
}

}  // namespace

std::vector<TensorView> ParseSafetensors(const std::byte* data, size_t size,
                                         const std::string& origin,
                                         std::map<std::string, std::string>* metadata) {
  Check(size >= 8, origin + ": file is " + std::to_string(size) +
                       " bytes, shorter than the 8-byte safetensors header length");
  const uint64_t header_len = ReadLe64(data);
  Check(header_len <= size - 8, origin + ": header length " + std::to_string(header_len) +
                                    " runs past the end of the file (" + std::to_string(size) +
                                    " bytes)");
  Check(header_len <= kMaxHeaderBytes,
        origin + ": header length " + std::to_string(header_len) + " exceeds the 100 MB limit");

  // nlohmann::json keeps the last of duplicate keys silently; the parse
  // callback sees every top-level key, so duplicates are caught here.
  std::set<std::string> seen_keys;
  std::string duplicate;
  const auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !seen_keys.insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  const char* text = reinterpret_cast<const char*>(data + 8);
  json header;
  try {
    header = json::parse(text, text + header_len, callback);
  } catch (const json::exception& e) {
    throw Error(origin + ": header is not valid JSON: " + e.what());
  }
  Check(header.is_object(), origin + ": header is not a JSON object");
  Check(duplicate.empty(), origin + ": duplicate tensor '" + duplicate + "' in header");

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size - data_start;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      Check(value.is_object(), origin + ": __metadata__ is not a JSON object");
      for (const auto& [key, item] : value.items()) {
        Check(item.is_string(), origin + ": __metadata__ '" + key + "' is not a string");
        if (metadata) (*metadata)[key] = item.get<std::string>();
      }
      continue;
    }
    Entry e = ParseEntry(origin, name, value);
    Check(e.end <= data_size, origin + ": tensor '" + name + "': data_offsets [" +
                                  std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                  ") run past the data section (" + std::to_string(data_size) +
                                  " bytes)");
    e.view.data = data + data_start + e.begin;
    entries.push_back(std::move(e));
  }

  // File order; empty tensors cannot overlap anything.
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin == e.end) continue;
    if (prev != nullptr && prev->end > e.begin) {
      throw Error(origin + ": tensor '" + e.view.name + "' at [" + std::to_string(e.begin) + ", " +
                  std::to_string(e.end) + ") overlaps tensor '" + prev->view.name + "' at [" +
                  std::to_string(prev->begin) + ", " + std::to_string(prev->end) + ")");
    }
    prev = &e;
  }

  std::vector<TensorView> views;
  views.reserve(entries.size());
  for (Entry& e : entries) views.push_back(std::move(e.view));
  return views;
}

TensorStore LoadSafetensors(const std::string& path) {
  auto file = MappedFile::Open(path);
  std::map<std::string, std::string> metadata;
  auto views = ParseSafetensors(file->data(), file->size(), path, &metadata);
  TensorStore store;
  store.KeepAlive(file);
  store.AddFile(path);
  for (const auto& [k, v] : metadata) store.SetMetadata(k, v);
  for (auto& v : views) store.Add(std::move(v));
  return store;
}

TensorStore LoadSafetensorsIndex(const std::string& index_path) {
  json index;
  try {
    index = json::parse(ReadTextFile(index_path));
  } catch (const json::exception& e) {
    throw Error(index_path + ": not valid JSON: " + e.what());
  }
  Check(index.is_object(), index_path + ": not a JSON object");
  auto map_it = index.find("weight_map");
  Check(map_it != index.end() && map_it->is_object(), index_path + ": missing object 'weight_map'");

  // Shard -> tensors the index places there; every shard is loaded once.
  std::map<std::string, std::vector<std::string>> by_shard;
  for (const auto& [tensor, shard] : map_it->items()) {
    Check(shard.is_string(),
          index_path + ": weight_map entry for tensor '" + tensor + "' is not a string");
    const std::string& name = shard.get_ref<const std::string&>();
    const std::filesystem::path rel(name);
    // Shards live next to the index; refuse paths that could point elsewhere.
    bool escapes = name.empty() || rel.is_absolute();
    for (const auto& part : rel) escapes |= part == "..";
    Check(!escapes, index_path + ": shard '" + name + "' for tensor '" + tensor +
                        "' is not a relative path inside the index's directory");
    by_shard[name].push_back(tensor);
  }

  const std::filesystem::path dir = std::filesystem::path(index_path).parent_path();
  TensorStore store;
  std::map<std::string, std::string, std::less<>> shard_of;  // tensor -> shard
  for (const auto& [shard, listed] : by_shard) {
    const std::string shard_path = (dir / shard).string();
    std::shared_ptr<MappedFile> file;
    try {
      file = MappedFile::Open(shard_path);
    } catch (const Error& e) {
      throw Error(index_path + ": shard '" + shard + "' (listed for tensor '" + listed.front() +
                  "'): " + e.what());
    }
    std::map<std::string, std::string> metadata;
    auto views = ParseSafetensors(file->data(), file->size(), shard_path, &metadata);
    store.KeepAlive(file);
    store.AddFile(shard_path);
    for (const auto& [k, v] : metadata) store.SetMetadata(k, v);
    for (auto& v : views) {
      auto [it, inserted] = shard_of.emplace(v.name, shard);
      Check(inserted, index_path + ": tensor '" + v.name + "' is in both shard '" + it->second +
                          "' and shard '" + shard + "'");
      store.Add(std::move(v));
    }
    for (const std::string& tensor : listed) {
      auto it = shard_of.find(tensor);
      Check(it != shard_of.end() && it->second == shard,
            index_path + ": tensor '" + tensor + "' is listed in shard '" + shard +
                "' but that shard does not contain it");
    }
  }
  return store;
}

OwnedTensor MakeF32Tensor(std::string name, std::vector<int64_t> shape, const float* values) {
  uint64_t nbytes = 0;
  Check(ByteSize(shape, DType::kF32, &nbytes),
        "tensor '" + name + "': invalid shape " + ShapeString(shape));
  OwnedTensor t;
  t.name = std::move(name);
  t.dtype = DType::kF32;
  t.shape = std::move(shape);
  t.bytes.resize(nbytes);
  if (nbytes) std::memcpy(t.bytes.data(), values, nbytes);
  return t;
}

void WriteSafetensorsStreamed(const std::string& path, const std::vector<TensorSpec>& specs,
                              const std::map<std::string, std::string>& metadata,
                              const TensorBytes& produce, const WriteProgress& progress) {
  // ordered_json keeps the tensors in the caller's order in the header too.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const TensorSpec& t : specs) {
    Check(t.name != "__metadata__" && !header.contains(t.name),
          path + ": duplicate or reserved tensor name '" + t.name + "'");
    uint64_t needed = 0;
    Check(ByteSize(t.shape, t.dtype, &needed),
          path + ": tensor '" + t.name + "': invalid shape " + ShapeString(t.shape));
    header[t.name] = {{"dtype", std::string(DTypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + needed}}};
    offset += needed;
    sizes.push_back(needed);
  }
  std::string text = header.dump();
  // Padding keeps the data section 8-byte aligned in the file.
  text.append((8 - text.size() % 8) % 8, ' ');

  // Through a temporary file renamed into place: the destination may be a
  // model some process has memory-mapped, and must never be truncated.
  AtomicFile out(path);
  const uint64_t total = 8 + text.size() + offset;
  uint64_t done = 8 + text.size();
  if (progress) progress(path, 0, total);
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((uint64_t{text.size()} >> (8 * i)) & 0xff);
  out.Write(len, 8);
  out.Write(text);
  std::vector<std::byte> scratch;
  for (size_t i = 0; i < specs.size(); ++i) {
    scratch.clear();
    const std::span<const std::byte> bytes = produce(i, scratch);
    Check(bytes.size() == sizes[i],
          path + ": tensor '" + specs[i].name + "' has " + std::to_string(bytes.size()) +
              " bytes but shape " + ShapeString(specs[i].shape) + " of " +
              std::string(DTypeName(specs[i].dtype)) + " needs " + std::to_string(sizes[i]));
    out.Write(bytes.data(), bytes.size());
    done += bytes.size();
    if (progress) progress(path, done, total);
  }
  out.Commit();
}

void WriteSafetensors(const std::string& path, const std::vector<OwnedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata,
                      const WriteProgress& progress) {
  std::vector<TensorSpec> specs;
  for (const OwnedTensor& t : tensors) specs.push_back({t.name, t.dtype, t.shape});
  WriteSafetensorsStreamed(
      path, specs, metadata,
      [&](size_t i, std::vector<std::byte>&) {
        return std::span<const std::byte>(tensors[i].bytes);
      },
      progress);
}

}  // namespace talkie::io
