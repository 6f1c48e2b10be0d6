// Tests for MappedFile and TensorStore.
#include "io/io_test_util.h"
#include "io/tensor_store.h"

namespace talkie::io {
namespace {

using testing::ExpectError;
using testing::TempDir;

TEST(MappedFile, MapsContents) {
  TempDir dir;
  const std::string path = dir.Write("f.bin", "hello");
  auto file = MappedFile::Open(path);
  ASSERT_EQ(file->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(file->data()), 5), "hello");
  EXPECT_EQ(file->path(), path);
}

TEST(MappedFile, EmptyFileHasSizeZero) {
  TempDir dir;
  auto file = MappedFile::Open(dir.Write("empty", ""));
  EXPECT_EQ(file->size(), 0u);
}

TEST(MappedFile, Errors) {
  TempDir dir;
  ExpectError([&] { MappedFile::Open(dir.File("missing")); }, {dir.File("missing"), "cannot open"});
  ExpectError([&] { MappedFile::Open(dir.path()); }, {dir.path(), "directory"});
}

TEST(TensorStore, AddFindDuplicate) {
  TensorStore store;
  TensorView a;
  a.name = "a";
  a.shape = {2};
  store.Add(a);
  TensorView b;
  b.name = "b";
  store.Add(b);
  ASSERT_NE(store.Find("a"), nullptr);
  EXPECT_EQ(store.Find("b")->name, "b");
  EXPECT_EQ(store.Find("c"), nullptr);
  ExpectError([&] { store.Add(a); }, {"duplicate tensor 'a'"});
  EXPECT_EQ(store.tensors().size(), 2u);
}

}  // namespace
}  // namespace talkie::io
