// AtomicFile: writes a file so that readers only ever see the old complete
// file or the new complete one. Bytes go to a temporary file in the same
// folder; Commit() flushes it to disk and renames it over the destination.
// The old file is never truncated, so a process that has it memory-mapped
// keeps reading valid data (a truncated mapping dies with SIGBUS). Without
// Commit() (an exception, a failed write) the temporary file is removed.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace talkie::io {

class AtomicFile {
 public:
  // Creates `<path>.tmp-XXXXXX` next to `path`; throws talkie::Error naming
  // the path when the folder is missing or not writable.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void Write(const void* data, size_t size);
  void Write(std::string_view bytes) { Write(bytes.data(), bytes.size()); }
  // fsync, rename into place, fsync the folder. Throws on any failure (the
  // destination then keeps its old contents).
  void Commit();

  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// The whole file in one go, through AtomicFile.
void WriteFileAtomically(const std::string& path, std::string_view bytes);
// Copies `from` to `to` through AtomicFile (never truncating `to`).
void CopyFileAtomically(const std::string& from, const std::string& to);

}  // namespace talkie::io
