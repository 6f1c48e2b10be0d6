// A minimal PNG encoder: 8-bit RGB, no interlace, one IDAT chunk compressed
// with zlib (filter type 0 on every row). Enough for the pictures the CLI
// draws (the logit-lens heat map) without an image library.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace talkie::cli {

// An 8-bit RGB raster, row-major, 3 bytes per pixel, origin at the top left.
struct RgbImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3

  RgbImage() = default;
  // Filled with one colour; throws talkie::Error for a non-positive or
  // oversized (> 2^24 per side) width or height.
  RgbImage(int64_t width, int64_t height, uint8_t r = 0, uint8_t g = 0, uint8_t b = 0);

  // Writes are clipped: a pixel outside the image is ignored.
  void Set(int64_t x, int64_t y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &rgb[static_cast<size_t>((y * width + x) * 3)];
    p[0] = r, p[1] = g, p[2] = b;
  }
};

// The PNG file's bytes: signature, IHDR, IDAT, IEND. Throws talkie::Error
// when the pixel buffer does not match width x height or zlib fails.
std::string EncodePng(const RgbImage& image);

// EncodePng written through talkie::WriteFileAtomically (readers never see
// half a file).
void WritePng(const std::string& path, const RgbImage& image);

}  // namespace talkie::cli
