// LoadTorchCheckpoint: a torch.save zip archive -> TensorStore whose views
// point straight into the memory-mapped archive (storages are stored
// uncompressed, so no copy is needed).
#include <unordered_map>

#include "common/error.h"
#include "io/tensor_store.h"

namespace talkie::io {

namespace {

constexpr std::string_view kPickleSuffix = "/data.pkl";

// torch's rule: strides of size-1 dimensions do not matter, nor do any
// strides of an empty tensor.
bool IsContiguous(const PickledTensor& t) {
  for (int64_t d : t.shape) {
    if (d == 0) return true;
  }
  uint64_t expected = 1;  // no overflow: the caller checked numel fits
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] != 1 && static_cast<uint64_t>(t.stride[i]) != expected) return false;
    expected *= static_cast<uint64_t>(t.shape[i]);
  }
  return true;
}

}  // namespace

TensorStore LoadTorchCheckpoint(const std::string& path) {
  auto file = MappedFile::Open(path);
  const std::vector<ZipEntry> entries = ParseZipDirectory(file->data(), file->size(), path);

  std::unordered_map<std::string_view, const ZipEntry*> by_name;
  const ZipEntry* pickle = nullptr;
  for (const ZipEntry& e : entries) {
    Check(by_name.emplace(e.name, &e).second, path + ": zip entry '" + e.name + "' appears twice");
    // <top>/data.pkl with a single-component <top> ('archive', 'rl-refined', ...).
    const std::string_view name = e.name;
    if (name.size() > kPickleSuffix.size() && name.ends_with(kPickleSuffix) &&
        name.find('/') == name.size() - kPickleSuffix.size()) {
      Check(pickle == nullptr, path + ": several pickles ('" + (pickle ? pickle->name : "") +
                                   "', '" + e.name + "'); expected one <top>/data.pkl");
      pickle = &e;
    }
  }
  Check(pickle != nullptr, path + ": no <top>/data.pkl entry (not a torch.save checkpoint?)");
  Check(pickle->stored,
        path + ": '" + pickle->name + "' is compressed; only stored entries are supported");
  const std::string top = pickle->name.substr(0, pickle->name.size() - kPickleSuffix.size());

  // Newer torch records the byte order of the storages; we read them as
  // little-endian in place, so anything else is refused.
  if (auto it = by_name.find(top + "/byteorder"); it != by_name.end()) {
    const ZipEntry& e = *it->second;
    const std::string_view order(reinterpret_cast<const char*>(file->data() + e.data_offset),
                                 e.stored ? e.size : 0);
    Check(order == "little", path + ": storages are not little-endian ('" + e.name + "' is '" +
                                 std::string(order.substr(0, 16)) + "')");
  }

  const std::vector<PickledTensor> tensors =
      ReadTorchPickle(file->data() + pickle->data_offset, pickle->size, path + ":" + pickle->name);

  TensorStore store;
  store.KeepAlive(file);
  store.AddFile(path);
  for (const PickledTensor& t : tensors) {
    const std::string where = path + ": tensor '" + t.name + "'";
    const std::string key = top + "/data/" + t.storage_key;
    auto it = by_name.find(key);
    Check(it != by_name.end(), where + ": storage entry '" + key + "' is missing");
    const ZipEntry& storage = *it->second;
    Check(storage.stored,
          where + ": storage entry '" + key + "' is compressed; only stored entries are supported");

    const uint64_t elem = DTypeSize(t.dtype);
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      Check(!__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel),
            where + ": shape overflows");
    }
    Check(IsContiguous(t), where +
                               ": not contiguous (row-major) in its storage; "
                               "save it with .contiguous()");
    const uint64_t storage_numel = storage.size / elem;
    const uint64_t offset = static_cast<uint64_t>(t.storage_offset);
    Check(offset <= storage_numel && numel <= storage_numel - offset,
          where + ": elements [" + std::to_string(offset) + ", +" + std::to_string(numel) +
              ") run past storage '" + key + "' of " + std::to_string(storage_numel) + " " +
              std::string(DTypeName(t.dtype)) + " elements");

    TensorView view;
    view.name = t.name;
    view.dtype = t.dtype;
    view.shape = t.shape;
    view.data = file->data() + storage.data_offset + offset * elem;
    view.nbytes = static_cast<size_t>(numel * elem);
    store.Add(std::move(view));
  }
  return store;
}

}  // namespace talkie::io
