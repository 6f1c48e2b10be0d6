// Test helpers for the checkpoint readers: temp files, a stored-entry zip
// writer and a pickle byte builder, so torch.save-style archives (and broken
// ones) can be made without PyTorch.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"

namespace talkie::io::testing {

inline std::string DataPath(const std::string& rel) {
  return std::string(TALKIE_TEST_DATA_DIR) + "/" + rel;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

inline const std::byte* Bytes(const std::string& s) {
  return reinterpret_cast<const std::byte*>(s.data());
}

// A fresh directory under /tmp, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "talkie_io_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& bytes) const {
    WriteFileBytes(File(name), bytes);
    return File(name);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `fn`, expecting talkie::Error whose message contains every needle.
template <typename Fn>
void ExpectError(Fn&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected talkie::Error";
  } catch (const talkie::Error& e) {
    for (const std::string& n : needles) {
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos)
          << "message '" << e.what() << "' lacks '" << n << "'";
    }
  }
}

inline void PutLe(std::string* out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline uint32_t Crc32(const std::string& s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// Minimal zip writer: stored entries (or a fake "deflate" method for tests),
// data aligned to 64 bytes through local extra-field padding like PyTorch's
// writer, optional ZIP64 records and trailing comment.
class ZipBuilder {
 public:
  void Add(const std::string& name, const std::string& bytes, uint16_t method = 0) {
    entries_.push_back({name, bytes, method});
  }
  std::string Build(bool zip64 = false, const std::string& comment = "") const {
    std::string out;
    std::vector<uint64_t> offsets;
    for (const Entry& e : entries_) {
      offsets.push_back(out.size());
      const size_t unpadded = out.size() + 30 + e.name.size() + 4;
      const size_t pad = (64 - unpadded % 64) % 64;
      PutLe(&out, 0x04034b50, 4);
      PutLe(&out, 20, 2);
      PutLe(&out, 0, 2);
      PutLe(&out, e.method, 2);
      PutLe(&out, 0, 4);  // time, date
      PutLe(&out, Crc32(e.bytes), 4);
      PutLe(&out, e.bytes.size(), 4);
      PutLe(&out, e.bytes.size(), 4);
      PutLe(&out, e.name.size(), 2);
      PutLe(&out, 4 + pad, 2);
      out += e.name;
      PutLe(&out, 0x5a46, 2);  // private padding field, as PyTorch does
      PutLe(&out, pad, 2);
      out.append(pad, 'Z');
      out += e.bytes;
    }
    const uint64_t cd_offset = out.size();
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      PutLe(&out, 0x02014b50, 4);
      PutLe(&out, 45, 2);
      PutLe(&out, 45, 2);
      PutLe(&out, 0, 2);
      PutLe(&out, e.method, 2);
      PutLe(&out, 0, 4);
      PutLe(&out, Crc32(e.bytes), 4);
      PutLe(&out, zip64 ? 0xffffffff : e.bytes.size(), 4);
      PutLe(&out, zip64 ? 0xffffffff : e.bytes.size(), 4);
      PutLe(&out, e.name.size(), 2);
      PutLe(&out, zip64 ? 28 : 0, 2);
      PutLe(&out, 0, 2);  // comment
      PutLe(&out, 0, 2);  // disk
      PutLe(&out, 0, 2);
      PutLe(&out, 0, 4);
      PutLe(&out, zip64 ? 0xffffffff : offsets[i], 4);
      out += e.name;
      if (zip64) {
        PutLe(&out, 0x0001, 2);
        PutLe(&out, 24, 2);
        PutLe(&out, e.bytes.size(), 8);
        PutLe(&out, e.bytes.size(), 8);
        PutLe(&out, offsets[i], 8);
      }
    }
    const uint64_t cd_size = out.size() - cd_offset;
    if (zip64) {
      const uint64_t record = out.size();
      PutLe(&out, 0x06064b50, 4);
      PutLe(&out, 44, 8);
      PutLe(&out, 45, 2);
      PutLe(&out, 45, 2);
      PutLe(&out, 0, 4);
      PutLe(&out, 0, 4);
      PutLe(&out, entries_.size(), 8);
      PutLe(&out, entries_.size(), 8);
      PutLe(&out, cd_size, 8);
      PutLe(&out, cd_offset, 8);
      PutLe(&out, 0x07064b50, 4);
      PutLe(&out, 0, 4);
      PutLe(&out, record, 8);
      PutLe(&out, 1, 4);
    }
    PutLe(&out, 0x06054b50, 4);
    PutLe(&out, 0, 2);
    PutLe(&out, 0, 2);
    PutLe(&out, zip64 ? 0xffff : entries_.size(), 2);
    PutLe(&out, zip64 ? 0xffff : entries_.size(), 2);
    PutLe(&out, zip64 ? 0xffffffff : cd_size, 4);
    PutLe(&out, zip64 ? 0xffffffff : cd_offset, 4);
    PutLe(&out, comment.size(), 2);
    out += comment;
    return out;
  }

 private:
  struct Entry {
    std::string name, bytes;
    uint16_t method;
  };
  std::vector<Entry> entries_;
};

// Emits pickle opcodes (protocol 2 style, as torch.save writes them).
class PickleBuilder {
 public:
  PickleBuilder& Raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  PickleBuilder& Op(char op) {
    out_.push_back(op);
    return *this;
  }
  PickleBuilder& Proto(int n) {
    out_ += '\x80';
    out_.push_back(static_cast<char>(n));
    return *this;
  }
  PickleBuilder& Str(const std::string& s) {
    out_ += 'X';
    PutLe(&out_, s.size(), 4);
    out_ += s;
    return *this;
  }
  PickleBuilder& Int(int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += 'K';
      PutLe(&out_, v, 1);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      PutLe(&out_, static_cast<uint32_t>(v), 4);
    } else {
      out_ += '\x8a';
      out_ += '\x08';
      PutLe(&out_, static_cast<uint64_t>(v), 8);
    }
    return *this;
  }
  PickleBuilder& Global(const std::string& module, const std::string& name) {
    out_ += 'c' + module + '\n' + name + '\n';
    return *this;
  }
  PickleBuilder& Put(uint8_t i) {
    out_ += 'q';
    out_.push_back(static_cast<char>(i));
    return *this;
  }
  PickleBuilder& Get(uint8_t i) {
    out_ += 'h';
    out_.push_back(static_cast<char>(i));
    return *this;
  }
  PickleBuilder& IntTuple(const std::vector<int64_t>& v) {
    Op('(');
    for (int64_t x : v) Int(x);
    return Op('t');
  }
  // _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset,
  //                    shape, stride, False, OrderedDict())
  PickleBuilder& Tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                        int64_t offset, const std::vector<int64_t>& shape,
                        const std::vector<int64_t>& stride) {
    Global("torch._utils", "_rebuild_tensor_v2").Op('(');
    Op('(').Str("storage").Global("torch", storage_type).Str(key).Str("cpu").Int(numel).Op('t');
    Op('Q').Int(offset).IntTuple(shape).IntTuple(stride).Op('\x89');
    Global("collections", "OrderedDict").Op(')').Op('R');
    return Op('t').Op('R');
  }
  std::string Stop() const { return out_ + '.'; }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

// Row-major strides of `shape`.
inline std::vector<int64_t> Contiguous(const std::vector<int64_t>& shape) {
  std::vector<int64_t> stride(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    stride[i] = s;
    s *= shape[i];
  }
  return stride;
}

}  // namespace talkie::io::testing
