// MappedFile (read-only mmap of a whole file) and TensorStore bookkeeping.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "io/tensor_store.h"

namespace talkie::io {

namespace {

// Closes a file descriptor on every exit path of Open.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

std::shared_ptr<MappedFile> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + ErrnoText());
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat: " + ErrnoText());
  if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory, expected a file");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": is not a regular file");

  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  // mmap of length 0 fails; an empty file is a valid (empty) mapping and the
  // format parsers report it as too short.
  if (file->size_ == 0) return file;
  void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) throw Error(path + ": cannot mmap: " + ErrnoText());
  file->data_ = static_cast<const std::byte*>(p);
  return file;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

const TensorView* TensorStore::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void TensorStore::Add(TensorView view) {
  auto [it, inserted] = index_.emplace(view.name, tensors_.size());
  Check(inserted, "duplicate tensor '" + view.name + "'");
  tensors_.push_back(std::move(view));
}

}  // namespace talkie::io
