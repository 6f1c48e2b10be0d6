// Tests for ParseZipDirectory: plain and ZIP64 archives, comments, padded
// local headers, and broken directories.
#include "io/io_test_util.h"
#include "io/tensor_store.h"

namespace talkie::io {
namespace {

using testing::Bytes;
using testing::ExpectError;
using testing::ZipBuilder;

std::vector<ZipEntry> ParseZip(const std::string& image) {
  return ParseZipDirectory(Bytes(image), image.size(), "ckpt.pt");
}

void ExpectEntries(const std::string& image) {
  const auto entries = ParseZip(image);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].name, "archive/data.pkl");
  EXPECT_EQ(image.substr(entries[0].data_offset, entries[0].size), "pickle");
  EXPECT_EQ(entries[0].data_offset % 64, 0u);  // padding of the local header honoured
  EXPECT_EQ(image.substr(entries[1].data_offset, entries[1].size), std::string(100, 'x'));
  EXPECT_TRUE(entries[1].stored);
  EXPECT_EQ(entries[2].size, 0u);
  EXPECT_FALSE(entries[2].stored);
}

ZipBuilder ThreeEntries() {
  ZipBuilder zip;
  zip.Add("archive/data.pkl", "pickle");
  zip.Add("archive/data/0", std::string(100, 'x'));
  zip.Add("archive/deflated", "", 8);
  return zip;
}

TEST(Zip, Plain) { ExpectEntries(ThreeEntries().Build()); }
TEST(Zip, Zip64) { ExpectEntries(ThreeEntries().Build(/*zip64=*/true)); }
TEST(Zip, WithComment) {
  // A comment holding a fake EOCD signature must not fool the backward scan.
  ExpectEntries(ThreeEntries().Build(false, std::string("PK\x05\x06", 4) + std::string(300, 'c')));
}

TEST(Zip, RealFixture) {
  const std::string image =
      testing::ReadFileBytes(testing::DataPath("model/models/tiny-raw/rl-refined.pt"));
  const auto entries = ParseZip(image);
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries[0].name, "rl-refined/data.pkl");
  EXPECT_EQ(static_cast<uint8_t>(image[entries[0].data_offset]), 0x80);  // PROTO
  for (const ZipEntry& e : entries) EXPECT_TRUE(e.stored) << e.name;
}

TEST(ZipMalformed, NoEocd) {
  ExpectError([] { ParseZip(std::string(1000, 'z')); }, {"ckpt.pt", "no end of central directory"});
  ExpectError([] { ParseZip("PK"); }, {"ckpt.pt", "too short"});
  std::string image = ThreeEntries().Build();
  image.resize(image.size() - 1);  // EOCD cut
  ExpectError([&] { ParseZip(image); }, {"ckpt.pt", "no end of central directory"});
}

TEST(ZipMalformed, DirectoryOutOfRange) {
  std::string image = ThreeEntries().Build();
  const size_t eocd = image.size() - 22;
  image[eocd + 16] = '\xf0';  // cd offset
  ExpectError([&] { ParseZip(image); }, {"ckpt.pt", "central directory"});
  image = ThreeEntries().Build();
  image[eocd + 10] = '\x50';  // entry count far above what fits
  ExpectError([&] { ParseZip(image); }, {"ckpt.pt", "claims 80 entries"});
}

TEST(ZipMalformed, EntryDataPastEnd) {
  ZipBuilder zip;
  zip.Add("a/data/0", std::string(64, 'x'));
  std::string image = zip.Build();
  // Central directory: compressed and uncompressed size fields of entry 0.
  const size_t cd = image.find(std::string("PK\x01\x02", 4));
  image[cd + 21] = image[cd + 25] = '\x7f';
  ExpectError([&] { ParseZip(image); }, {"entry 'a/data/0'", "runs past the end"});
}

TEST(ZipMalformed, LocalHeaderMissing) {
  std::string image = ThreeEntries().Build();
  image[0] = 'Q';
  ExpectError([&] { ParseZip(image); }, {"entry 'archive/data.pkl'", "local header"});
}

TEST(ZipMalformed, Zip64LocatorMissing) {
  std::string image = ThreeEntries().Build(true);
  const size_t locator = image.size() - 22 - 20;
  image[locator] = 'Q';
  ExpectError([&] { ParseZip(image); }, {"ckpt.pt", "ZIP64 locator"});
  image = ThreeEntries().Build(true);
  image[locator + 8] = '\x7f';  // record offset
  ExpectError([&] { ParseZip(image); }, {"ckpt.pt", "ZIP64 end of central directory"});
}

TEST(ZipCorruption, EveryByteOfSmallArchive) {
  const std::string original = ThreeEntries().Build(true, "comment");
  for (size_t i = 0; i < original.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string image = original;
      image[i] = static_cast<char>(image[i] ^ mask);
      try {
        for (const ZipEntry& e : ParseZip(image)) {
          ASSERT_LE(e.data_offset + e.size, image.size());
        }
      } catch (const Error&) {
      }
    }
  }
  for (size_t len = 0; len < original.size(); ++len) {
    try {
      ParseZip(original.substr(0, len));
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace talkie::io
