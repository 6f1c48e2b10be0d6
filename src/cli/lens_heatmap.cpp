// Drawing the logit-lens heat map (see lens_heatmap.h).
#include "cli/lens_heatmap.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "cli/token_display.h"
#include "talkie/error.h"

namespace talkie::cli {
namespace {

constexpr int kScale = 2;
constexpr int64_t kTextHeight = kGlyphHeight * kScale;
constexpr Rgb kPaper{255, 255, 255};
constexpr Rgb kInk{0, 0, 0};

void FillRect(RgbImage& image, int64_t x, int64_t y, int64_t w, int64_t h, Rgb c) {
  for (int64_t yy = y; yy < y + h; ++yy)
    for (int64_t xx = x; xx < x + w; ++xx) image.Set(xx, yy, c.r, c.g, c.b);
}

// Text readable on `background`: black on light colours, white on dark ones
// (relative luminance, Rec. 709 weights).
Rgb TextColourOn(Rgb background) {
  const double luma = 0.2126 * background.r + 0.7152 * background.g + 0.0722 * background.b;
  return luma > 140 ? kInk : kPaper;
}

void DrawCentred(RgbImage& image, int64_t centre_x, int64_t y, const std::string& text, Rgb colour,
                 int scale) {
  const int64_t w = TextWidth(static_cast<int64_t>(text.size()), scale);
  DrawText(image, centre_x - w / 2, y, text, colour, scale);
}

// A cell label: a token of spaces only would leave the cell blank, so its
// spaces are drawn as underscores.
std::string CellLabel(const std::string& token) {
  std::string label = AsciiTokenLabel(token, kHeatmapCellChars);
  if (!label.empty() && label.find_first_not_of(' ') == std::string::npos)
    label.assign(label.size(), '_');
  return label;
}

}  // namespace

Rgb ViridisColour(double t) {
  static constexpr std::array<Rgb, 5> kAnchors = {Rgb{0x44, 0x01, 0x54}, Rgb{0x3b, 0x52, 0x8b},
                                                  Rgb{0x21, 0x91, 0x8c}, Rgb{0x5e, 0xc9, 0x62},
                                                  Rgb{0xfd, 0xe7, 0x25}};
  if (!(t > 0)) t = 0;  // NaN too
  t = std::min(t, 1.0) * (kAnchors.size() - 1);
  const auto i = std::min(static_cast<size_t>(t), kAnchors.size() - 2);
  const double f = t - static_cast<double>(i);
  auto mix = [f](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(a + (static_cast<double>(b) - a) * f));
  };
  const Rgb a = kAnchors[i], b = kAnchors[i + 1];
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

RgbImage DrawLensHeatmap(const HeatmapInput& in) {
  const auto layers = static_cast<int64_t>(in.top1_prob.size());
  const auto positions = static_cast<int64_t>(in.position_tokens.size());
  Check(layers > 0 && positions > 0, "heat map: no layers or no positions");
  Check(in.top1.size() == in.top1_prob.size(), "heat map: top-1 tokens and probabilities differ");
  for (int64_t l = 0; l < layers; ++l)
    Check(static_cast<int64_t>(in.top1_prob[l].size()) == positions &&
              static_cast<int64_t>(in.top1[l].size()) == positions,
          "heat map: layer " + std::to_string(l) + " does not have one cell per position");

  RgbImage image(HeatmapWidth(positions), HeatmapHeight(layers), kPaper.r, kPaper.g, kPaper.b);
  DrawText(image, kHeatmapLeft, 9, "logit lens top-1", kInk, kScale);
  const int64_t grid_bottom = kHeatmapTop + kHeatmapCellHeight * layers;
  const int64_t text_dy = (kHeatmapCellHeight - kTextHeight) / 2;

  for (int64_t l = 0; l < layers; ++l) {
    const int64_t y = kHeatmapTop + (layers - 1 - l) * kHeatmapCellHeight;  // last layer on top
    const std::string label = std::to_string(l);
    DrawText(image, kHeatmapLeft - 8 - TextWidth(static_cast<int64_t>(label.size()), kScale),
             y + text_dy, label, kInk, kScale);
    for (int64_t p = 0; p < positions; ++p) {
      const int64_t x = kHeatmapLeft + p * kHeatmapCellWidth;
      const Rgb fill = ViridisColour(in.top1_prob[l][p]);
      // A one-pixel paper gap between cells keeps equal colours apart.
      FillRect(image, x + 1, y + 1, kHeatmapCellWidth - 2, kHeatmapCellHeight - 2, fill);
      DrawCentred(image, x + kHeatmapCellWidth / 2, y + text_dy, CellLabel(in.top1[l][p]),
                  TextColourOn(fill), kScale);
    }
  }
  for (int64_t p = 0; p < positions; ++p) {
    const int64_t centre = kHeatmapLeft + p * kHeatmapCellWidth + kHeatmapCellWidth / 2;
    DrawCentred(image, centre, grid_bottom + 6, CellLabel(in.position_tokens[p]), kInk, kScale);
    DrawCentred(image, centre, grid_bottom + 6 + kTextHeight + 5, std::to_string(p), kInk, 1);
  }

  // Colour bar: probability 1 at the top of the grid, 0 at its bottom.
  const int64_t bar_x = kHeatmapLeft + positions * kHeatmapCellWidth + 16, bar_w = 16;
  const int64_t bar_h = grid_bottom - kHeatmapTop;
  for (int64_t yy = 0; yy < bar_h; ++yy) {
    const double t = bar_h == 1 ? 1.0 : 1.0 - static_cast<double>(yy) / (bar_h - 1);
    FillRect(image, bar_x, kHeatmapTop + yy, bar_w, 1, ViridisColour(t));
  }
  const int64_t label_x = bar_x + bar_w + 6;
  DrawText(image, label_x, kHeatmapTop, "1.0", kInk, kScale);
  DrawText(image, label_x, kHeatmapTop + (bar_h - kTextHeight) / 2, "0.5", kInk, kScale);
  DrawText(image, label_x, grid_bottom - kTextHeight, "0.0", kInk, kScale);
  return image;
}

}  // namespace talkie::cli
