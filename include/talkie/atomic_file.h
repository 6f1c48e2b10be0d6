// Writing an output file so that readers only ever see the old complete file
// or the new complete one: the bytes go to a temporary file in the same
// folder (<path>.tmp-XXXXXX) that is flushed to disk and renamed over `path`
// on Commit. The old file is never truncated, so a process that has it
// memory-mapped keeps reading valid data. Without Commit (an exception, a
// failed write) the temporary file is removed. The library writes its own
// outputs this way (talkie/convert.h, talkie/tensor_file.h); these are for
// the files beside them (a manifest, an image).
//
//   talkie::AtomicFile out("map.png");  // fails now if the folder is unwritable
//   ... long work ...
//   out.Write(png_bytes);
//   out.Commit();
//
// Errors: talkie::Error naming the path (missing or unwritable folder, a
// failed write, flush or rename).
//
// Thread safety: an AtomicFile is used by one thread at a time; two files
// for one path may not be committed at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "talkie/export.h"

namespace talkie {

namespace io {
class AtomicFile;
}

class TALKIE_API AtomicFile {
 public:
  // Creates the temporary file next to `path` now.
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(AtomicFile&&) noexcept;
  AtomicFile& operator=(AtomicFile&&) noexcept;

  void Write(std::string_view bytes);
  // Flushes, renames into place and syncs the folder. After an Error the
  // destination keeps its old contents.
  void Commit();

 private:
  std::unique_ptr<io::AtomicFile> impl_;
};

// The whole file in one go, through an AtomicFile.
TALKIE_API void WriteFileAtomically(const std::string& path, std::string_view bytes);

}  // namespace talkie
