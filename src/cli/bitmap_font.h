// A 5x7 bitmap font for printable ASCII (32..126), drawn into an RgbImage
// at an integer scale; every other byte is drawn as '?'. Used for the labels
// of the pictures the CLI writes (the logit-lens heat map), so no font
// library or font file is needed.
#pragma once

#include <cstdint>
#include <string_view>

#include "cli/png_writer.h"

namespace talkie::cli {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = 6;  // one blank column between glyphs

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// Whether pixel (x, y) of character c's glyph is set (x < 5, y < 7; y = 0 top).
bool GlyphPixel(char c, int x, int y);

// Draws `text` (one byte per glyph) with its top-left corner at (x, y), each
// font pixel a scale x scale square; returns the x after the last glyph.
int64_t DrawText(RgbImage& image, int64_t x, int64_t y, std::string_view text, Rgb colour,
                 int scale = 1);

// Width in pixels of `chars` glyphs at `scale` (without the trailing gap).
inline int64_t TextWidth(int64_t chars, int scale = 1) {
  return chars <= 0 ? 0 : (chars * kGlyphAdvance - 1) * scale;
}

}  // namespace talkie::cli
