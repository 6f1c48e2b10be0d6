// The logit-lens heat map: a layer (rows, last layer on top) x position
// (columns) grid; each cell is coloured by the top-1 probability on a
// viridis-like ramp and labelled with the top-1 token. Position tokens run
// along the x axis, layer numbers along the y axis, a colour bar on the right.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/bitmap_font.h"
#include "cli/png_writer.h"

namespace talkie::cli {

// Geometry in pixels (text is the 5x7 font at scale 2).
inline constexpr int64_t kHeatmapCellWidth = 80;  // 6 characters + padding
inline constexpr int64_t kHeatmapCellHeight = 24;
inline constexpr int64_t kHeatmapLeft = 56;    // layer numbers
inline constexpr int64_t kHeatmapTop = 32;     // title
inline constexpr int64_t kHeatmapBottom = 40;  // position tokens and indices
inline constexpr int64_t kHeatmapRight = 88;   // colour bar and its labels
inline constexpr size_t kHeatmapCellChars = 6;

// width = 56 + 80 * positions + 88, height = 32 + 24 * layers + 40.
inline int64_t HeatmapWidth(int64_t positions) {
  return kHeatmapLeft + kHeatmapCellWidth * positions + kHeatmapRight;
}
inline int64_t HeatmapHeight(int64_t layers) {
  return kHeatmapTop + kHeatmapCellHeight * layers + kHeatmapBottom;
}

struct HeatmapInput {
  std::vector<std::string> position_tokens;    // token bytes at each position
  std::vector<std::vector<double>> top1_prob;  // [layer][position], in [0, 1]
  std::vector<std::vector<std::string>> top1;  // [layer][position], token bytes
};

// The ramp: t in [0, 1] (clamped) interpolated linearly between viridis's
// colours at 0, 1/4, 1/2, 3/4 and 1 (#440154 #3b528b #21918c #5ec962 #fde725).
Rgb ViridisColour(double t);

// Throws talkie::Error when the layers / positions are empty or ragged.
RgbImage DrawLensHeatmap(const HeatmapInput& input);

}  // namespace talkie::cli
