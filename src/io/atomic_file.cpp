// AtomicFile (see atomic_file.h).
#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.h"

namespace talkie::io {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// mkstemp creates files 0600; a written model should get the usual mode.
mode_t DefaultFileMode() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

void SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself already happened
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path p(path_);
  Check(!p.filename().empty(), path_ + ": not a file name");
  std::error_code ec;
  const std::filesystem::path dir = p.parent_path().empty() ? "." : p.parent_path();
  Check(std::filesystem::is_directory(dir, ec),
        path_ + ": cannot write: folder " + dir.string() + " does not exist");
  std::string pattern = path_ + ".tmp-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) throw Error(path_ + ": cannot write: " + ErrnoText());
  temp_path_ = name.data();
  ::fchmod(fd, DefaultFileMode());
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    ::close(fd);
    ::unlink(temp_path_.c_str());
    throw Error(path_ + ": cannot write: " + ErrnoText());
  }
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void AtomicFile::Write(const void* data, size_t size) {
  Check(file_ && !committed_, path_ + ": write after commit");
  if (size && std::fwrite(data, 1, size, file_) != size)
    throw Error(path_ + ": write failed: " + ErrnoText());
}

void AtomicFile::Commit() {
  Check(file_ && !committed_, path_ + ": committed twice");
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    throw Error(path_ + ": write failed (disk full?): " + ErrnoText());
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) throw Error(path_ + ": write failed: " + ErrnoText());
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
    throw Error(path_ + ": cannot replace: " + ErrnoText());
  committed_ = true;
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  SyncDirectory(parent.empty() ? "." : parent.string());
}

void WriteFileAtomically(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.Write(bytes);
  file.Commit();
}

void CopyFileAtomically(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  Check(static_cast<bool>(in), from + ": cannot open for copying");
  AtomicFile file(to);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    file.Write(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  Check(in.eof(), from + ": read failed while copying");
  file.Commit();
}

}  // namespace talkie::io
