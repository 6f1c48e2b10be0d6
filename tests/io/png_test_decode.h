// A small PNG reader for tests: checks the signature and every chunk's CRC,
// reads IHDR and inflates IDAT (8-bit RGB, filter 0 rows only: what
// io::EncodePng writes), so a test can assert exact pixel values.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace talkie::testing {

struct DecodedPng {
  std::string error;  // empty when the file is a valid PNG of the supported kind
  std::vector<std::string> chunk_types;
  uint32_t width = 0, height = 0;
  uint8_t bit_depth = 0, colour_type = 0, compression = 0, filter = 0, interlace = 0;
  std::vector<uint8_t> rgb;  // width * height * 3

  const uint8_t* Pixel(uint32_t x, uint32_t y) const { return &rgb[(size_t{y} * width + x) * 3]; }
};

inline uint32_t ReadBe32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(s[at + 3])};
}

inline DecodedPng DecodePng(const std::string& bytes) {
  DecodedPng png;
  if (bytes.size() < 8 || bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0) {
    png.error = "bad signature";
    return png;
  }
  std::string idat;
  size_t at = 8;
  while (at < bytes.size()) {
    if (at + 12 > bytes.size()) return png.error = "truncated chunk header", png;
    const uint32_t length = ReadBe32(bytes, at);
    if (at + 12 + length > bytes.size()) return png.error = "truncated chunk", png;
    const std::string type = bytes.substr(at + 4, 4);
    const std::string data = bytes.substr(at + 8, length);
    const uLong crc = crc32(crc32(0L, Z_NULL, 0),
                            reinterpret_cast<const Bytef*>(bytes.data() + at + 4), 4 + length);
    if (crc != ReadBe32(bytes, at + 8 + length)) return png.error = "bad CRC in " + type, png;
    png.chunk_types.push_back(type);
    if (type == "IHDR") {
      if (length != 13) return png.error = "IHDR length", png;
      png.width = ReadBe32(data, 0), png.height = ReadBe32(data, 4);
      png.bit_depth = data[8], png.colour_type = data[9], png.compression = data[10];
      png.filter = data[11], png.interlace = data[12];
    } else if (type == "IDAT") {
      idat += data;
    }
    at += 12 + length;
  }
  if (png.chunk_types.empty() || png.chunk_types.front() != "IHDR" ||
      png.chunk_types.back() != "IEND")
    return png.error = "chunks must start with IHDR and end with IEND", png;
  if (png.bit_depth != 8 || png.colour_type != 2) return png.error = "not 8-bit RGB", png;
  const size_t row = size_t{png.width} * 3 + 1;
  std::string raw(row * png.height, '\0');
  uLongf raw_size = static_cast<uLongf>(raw.size());
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size,
                 reinterpret_cast<const Bytef*>(idat.data()),
                 static_cast<uLong>(idat.size())) != Z_OK ||
      raw_size != raw.size())
    return png.error = "IDAT does not inflate to height x (1 + 3 x width) bytes", png;
  for (uint32_t y = 0; y < png.height; ++y) {
    if (raw[y * row] != 0) return png.error = "row filter is not 0", png;
    png.rgb.insert(png.rgb.end(), raw.begin() + static_cast<std::ptrdiff_t>(y * row + 1),
                   raw.begin() + static_cast<std::ptrdiff_t>((y + 1) * row));
  }
  return png;
}

}  // namespace talkie::testing
