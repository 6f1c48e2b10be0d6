// cli::EncodePng / WritePng: the bytes are a valid PNG (signature, CRCs, IHDR)
// whose inflated pixels are exactly the raster's; bad rasters are errors.
#include "cli/png_writer.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "io/io_test_util.h"
#include "io/png_test_decode.h"
#include "talkie/error.h"

namespace talkie::cli {
namespace {

using talkie::testing::DecodePng;
using talkie::testing::ReadBe32;

// A raster where every pixel differs from its neighbours.
RgbImage Pattern(int64_t w, int64_t h) {
  RgbImage image(w, h);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      image.Set(x, y, static_cast<uint8_t>(x * 7 + y), static_cast<uint8_t>(y * 13 + 1),
                static_cast<uint8_t>((x ^ y) * 5));
  return image;
}

TEST(PngWriterTest, StartsWithTheSignatureAndIhdrOfTheImageSize) {
  const std::string png = EncodePng(Pattern(37, 11));
  ASSERT_GE(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(ReadBe32(png, 8), 13u);  // IHDR length
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(ReadBe32(png, 16), 37u);
  EXPECT_EQ(ReadBe32(png, 20), 11u);
  EXPECT_EQ(png[24], 8);  // bit depth
  EXPECT_EQ(png[25], 2);  // RGB
  EXPECT_EQ(png.substr(png.size() - 12), std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12));
}

TEST(PngWriterTest, EveryChunkCrcChecksAndPixelsRoundTrip) {
  const RgbImage image = Pattern(37, 11);
  const auto png = DecodePng(EncodePng(image));
  ASSERT_EQ(png.error, "");
  EXPECT_EQ(png.chunk_types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  EXPECT_EQ(png.width, 37u);
  EXPECT_EQ(png.height, 11u);
  EXPECT_EQ(png.interlace, 0);
  EXPECT_EQ(png.rgb, image.rgb);
}

TEST(PngWriterTest, OnePixelImageRoundTrips) {
  RgbImage image(1, 1, 250, 128, 3);
  const auto png = DecodePng(EncodePng(image));
  ASSERT_EQ(png.error, "");
  EXPECT_EQ(png.rgb, (std::vector<uint8_t>{250, 128, 3}));
}

TEST(PngWriterTest, ACorruptedByteFailsTheCrc) {
  std::string bytes = EncodePng(Pattern(5, 5));
  bytes[18] ^= 1;  // inside IHDR's width
  EXPECT_EQ(DecodePng(bytes).error, "bad CRC in IHDR");
}

TEST(PngWriterTest, SetOutsideTheImageIsIgnored) {
  RgbImage image(2, 2, 1, 2, 3);
  image.Set(-1, 0, 9, 9, 9);
  image.Set(2, 1, 9, 9, 9);
  image.Set(0, 2, 9, 9, 9);
  EXPECT_EQ(image.rgb, RgbImage(2, 2, 1, 2, 3).rgb);
}

TEST(PngWriterTest, BadSizesAndBuffersAreErrors) {
  EXPECT_THROW(RgbImage(0, 4), Error);
  EXPECT_THROW(RgbImage(4, -1), Error);
  EXPECT_THROW(RgbImage((int64_t{1} << 24) + 1, 1), Error);
  RgbImage image(3, 3);
  image.rgb.pop_back();
  try {
    EncodePng(image);
    FAIL() << "no error for a short pixel buffer";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pixel buffer holds 26 bytes, expected 27"),
              std::string::npos)
        << e.what();
  }
}

TEST(PngWriterTest, WritePngWritesTheEncodedBytes) {
  const std::string path = ::testing::TempDir() + "talkie_png_writer.png";
  const RgbImage image = Pattern(9, 4);
  WritePng(path, image);
  EXPECT_EQ(io::testing::ReadFileBytes(path), EncodePng(image));
  std::filesystem::remove(path);
}

TEST(PngWriterTest, WritePngIntoAMissingFolderIsAnError) {
  EXPECT_THROW(WritePng(::testing::TempDir() + "no_such_folder_for_png/x.png", RgbImage(1, 1)),
               Error);
}

}  // namespace
}  // namespace talkie::cli
