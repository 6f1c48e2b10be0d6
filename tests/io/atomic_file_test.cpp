// io::AtomicFile and the safetensors writer built on it: a replaced file is
// never truncated (a mapping of the old one keeps its bytes), a failed write
// leaves the old file and no temporary file behind.
#include "io/atomic_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "io/io_test_util.h"
#include "io/tensor_store.h"

namespace talkie::io {
namespace {

namespace fs = std::filesystem;
using testing::ReadFileBytes;

std::string FreshDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "talkie_atomic_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

size_t FileCount(const std::string& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicFileTest, CommitReplacesTheFileWithTheUsualMode) {
  const std::string dir = FreshDir("commit");
  const std::string path = dir + "/a.bin";
  WriteFileAtomically(path, "old");
  WriteFileAtomically(path, "new contents");
  EXPECT_EQ(ReadFileBytes(path), "new contents");
  EXPECT_EQ(FileCount(dir), 1u);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0044, 0u);  // not mkstemp's 0600
}

TEST(AtomicFileTest, WithoutCommitTheOldFileStaysAndNoTempIsLeft) {
  const std::string dir = FreshDir("abort");
  const std::string path = dir + "/a.bin";
  WriteFileAtomically(path, "old");
  {
    AtomicFile f(path);
    f.Write("partial");
    EXPECT_TRUE(fs::exists(f.temp_path()));
  }
  EXPECT_EQ(ReadFileBytes(path), "old");
  EXPECT_EQ(FileCount(dir), 1u);
  EXPECT_THROW(AtomicFile(dir + "/missing/a.bin"), Error);
}

TEST(AtomicFileTest, AMappedFileKeepsItsBytesWhenReplaced) {
  const std::string dir = FreshDir("mapped");
  const std::string path = dir + "/m.safetensors";
  const std::vector<float> a(4096, 1.5f), b(16, -2.0f);
  WriteSafetensors(path, {MakeF32Tensor("x", {4096}, a.data())});
  const TensorStore old = LoadSafetensors(path);  // memory-mapped
  WriteSafetensors(path, {MakeF32Tensor("y", {16}, b.data())});
  // Reading every byte of the old mapping: a truncated file would SIGBUS.
  const TensorView* x = old.Find("x");
  ASSERT_NE(x, nullptr);
  for (int64_t i = 0; i < 4096; ++i) ASSERT_EQ(ElementAsFloat(*x, i), 1.5f) << i;
  const TensorStore fresh = LoadSafetensors(path);
  ASSERT_NE(fresh.Find("y"), nullptr);
  EXPECT_EQ(fresh.Find("x"), nullptr);
}

TEST(AtomicFileTest, AFailedSafetensorsWriteLeavesTheOldFile) {
  const std::string dir = FreshDir("failed");
  const std::string path = dir + "/m.safetensors";
  const std::vector<float> a(8, 3.0f);
  WriteSafetensors(path, {MakeF32Tensor("x", {8}, a.data())});
  const std::string before = ReadFileBytes(path);
  EXPECT_THROW(WriteSafetensorsStreamed(path, {{"x", DType::kF32, {8}}}, {},
                                        [](size_t, std::vector<std::byte>& out) {
                                          out.resize(5);  // wrong size: the writer throws
                                          return std::span<const std::byte>(out);
                                        }),
               Error);
  EXPECT_EQ(ReadFileBytes(path), before);
  EXPECT_EQ(FileCount(dir), 1u);
}

}  // namespace
}  // namespace talkie::io
