// PNG encoder (see png_writer.h). Layout per the PNG specification: the
// 8-byte signature, then chunks of [length BE32][type][data][CRC-32 over
// type + data]; IDAT holds a zlib stream of rows, each led by its filter byte.
#include "cli/png_writer.h"

#include <zlib.h>

#include "talkie/atomic_file.h"
#include "talkie/error.h"

namespace talkie::cli {
namespace {

constexpr int64_t kMaxSide = int64_t{1} << 24;

void AppendBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void AppendChunk(std::string& out, const char type[4], const std::string& data) {
  AppendBe32(out, static_cast<uint32_t>(data.size()));
  const size_t type_at = out.size();
  out.append(type, 4);
  out += data;
  const auto* crc_bytes = reinterpret_cast<const Bytef*>(out.data() + type_at);
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), crc_bytes, static_cast<uInt>(4 + data.size()));
  AppendBe32(out, static_cast<uint32_t>(crc));
}

std::string Deflate(const std::string& raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                           reinterpret_cast<const Bytef*>(raw.data()),
                           static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION);
  Check(rc == Z_OK, "PNG: zlib compress2 failed (code " + std::to_string(rc) + ")");
  out.resize(size);
  return out;
}

}  // namespace

RgbImage::RgbImage(int64_t w, int64_t h, uint8_t r, uint8_t g, uint8_t b) : width(w), height(h) {
  Check(w > 0 && h > 0 && w <= kMaxSide && h <= kMaxSide, "image size " + std::to_string(w) +
                                                              " x " + std::to_string(h) +
                                                              " is not in [1, 2^24] per side");
  rgb.resize(static_cast<size_t>(w * h * 3));
  for (size_t i = 0; i < rgb.size(); i += 3) rgb[i] = r, rgb[i + 1] = g, rgb[i + 2] = b;
}

std::string EncodePng(const RgbImage& image) {
  Check(image.width > 0 && image.height > 0 && image.width <= kMaxSide && image.height <= kMaxSide,
        "PNG: image size " + std::to_string(image.width) + " x " + std::to_string(image.height) +
            " is not in [1, 2^24] per side");
  const auto row_bytes = static_cast<size_t>(image.width) * 3;
  Check(image.rgb.size() == row_bytes * static_cast<size_t>(image.height),
        "PNG: pixel buffer holds " + std::to_string(image.rgb.size()) + " bytes, expected " +
            std::to_string(row_bytes * static_cast<size_t>(image.height)));

  std::string raw;
  raw.reserve((row_bytes + 1) * static_cast<size_t>(image.height));
  for (int64_t y = 0; y < image.height; ++y) {
    raw.push_back('\0');  // filter type 0 (None)
    raw.append(reinterpret_cast<const char*>(image.rgb.data()) + y * row_bytes, row_bytes);
  }

  std::string ihdr;
  AppendBe32(ihdr, static_cast<uint32_t>(image.width));
  AppendBe32(ihdr, static_cast<uint32_t>(image.height));
  ihdr += std::string{8, 2, 0, 0,
                      0};  // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace

  std::string png("\x89PNG\r\n\x1a\n", 8);
  AppendChunk(png, "IHDR", ihdr);
  AppendChunk(png, "IDAT", Deflate(raw));
  AppendChunk(png, "IEND", "");
  return png;
}

void WritePng(const std::string& path, const RgbImage& image) {
  WriteFileAtomically(path, EncodePng(image));
}

}  // namespace talkie::cli
