// The public AtomicFile (talkie/atomic_file.h) over io::AtomicFile.
#include "talkie/atomic_file.h"

#include "io/atomic_file.h"
#include "talkie/error.h"

namespace talkie {

AtomicFile::AtomicFile(const std::string& path) : impl_(std::make_unique<io::AtomicFile>(path)) {}
AtomicFile::~AtomicFile() = default;
AtomicFile::AtomicFile(AtomicFile&&) noexcept = default;
AtomicFile& AtomicFile::operator=(AtomicFile&&) noexcept = default;

void AtomicFile::Write(std::string_view bytes) {
  Check(impl_ != nullptr, "AtomicFile: moved-from file");
  impl_->Write(bytes);
}

void AtomicFile::Commit() {
  Check(impl_ != nullptr, "AtomicFile: moved-from file");
  impl_->Commit();
}

void WriteFileAtomically(const std::string& path, std::string_view bytes) {
  io::WriteFileAtomically(path, bytes);
}

}  // namespace talkie
