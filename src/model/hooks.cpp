// Hook names and the registry (see hooks.h).
#include "model/hooks.h"

#include <array>
#include <charconv>

#include "common/error.h"

namespace talkie::model {
namespace {

struct PointName {
  HookPoint point;
  std::string_view suffix;
  bool per_layer;
};

// In forward order (AllHookNames relies on it).
constexpr std::array<PointName, kHookPointCount> kPoints = {{
    {HookPoint::kEmbed, "hook_embed", false},
    {HookPoint::kResidPre, "hook_resid_pre", true},
    {HookPoint::kLn1Normalized, "ln1.hook_normalized", true},
    {HookPoint::kQ, "attn.hook_q", true},
    {HookPoint::kK, "attn.hook_k", true},
    {HookPoint::kV, "attn.hook_v", true},
    {HookPoint::kPattern, "attn.hook_pattern", true},
    {HookPoint::kZ, "attn.hook_z", true},
    {HookPoint::kAttnOut, "hook_attn_out", true},
    {HookPoint::kResidMid, "hook_resid_mid", true},
    {HookPoint::kLn2Normalized, "ln2.hook_normalized", true},
    {HookPoint::kMlpPre, "mlp.hook_pre", true},
    {HookPoint::kMlpPost, "mlp.hook_post", true},
    {HookPoint::kMlpOut, "hook_mlp_out", true},
    {HookPoint::kResidPost, "hook_resid_post", true},
    {HookPoint::kLnFinal, "ln_final.hook_normalized", false},
    {HookPoint::kLogits, "logits", false},
}};

const PointName& Info(HookPoint point) { return kPoints[static_cast<size_t>(point)]; }

std::string KnownPoints() {
  std::string s;
  for (const PointName& p : kPoints) {
    if (!s.empty()) s += ", ";
    s += p.per_layer ? "blocks.{l}." + std::string(p.suffix) : std::string(p.suffix);
  }
  return s;
}

[[noreturn]] void BadName(std::string_view name, const std::string& why) {
  throw Error("hook '" + std::string(name) + "': " + why + " (hook points: " + KnownPoints() + ")");
}

}  // namespace

bool IsPerLayer(HookPoint point) { return Info(point).per_layer; }
std::string_view HookPointSuffix(HookPoint point) { return Info(point).suffix; }

HookName ParseHookName(std::string_view name) {
  constexpr std::string_view kBlocks = "blocks.";
  if (!name.starts_with(kBlocks)) {
    for (const PointName& p : kPoints)
      if (!p.per_layer && name == p.suffix) return {p.point, kNoLayer};
    for (const PointName& p : kPoints)
      if (p.per_layer && name == p.suffix)
        BadName(name, "a per-block point needs its block: blocks.{l}." + std::string(name) +
                          " or blocks.*." + std::string(name));
    BadName(name, "unknown hook point");
  }
  const std::string_view rest = name.substr(kBlocks.size());
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0) BadName(name, "expected blocks.{l}.<point>");
  const std::string_view layer_text = rest.substr(0, dot), point_text = rest.substr(dot + 1);
  int64_t layer = kEveryLayer;
  if (layer_text != "*") {
    const auto [end, ec] =
        std::from_chars(layer_text.data(), layer_text.data() + layer_text.size(), layer);
    if (ec != std::errc() || end != layer_text.data() + layer_text.size() || layer < 0)
      BadName(name,
              "block index '" + std::string(layer_text) + "' is not a non-negative integer or '*'");
  }
  for (const PointName& p : kPoints)
    if (point_text == p.suffix) {
      if (!p.per_layer) BadName(name, "'" + std::string(p.suffix) + "' is not a per-block point");
      return {p.point, layer};
    }
  BadName(name, "unknown hook point '" + std::string(point_text) + "'");
}

std::string HookNameString(HookPoint point, int64_t layer) {
  if (!IsPerLayer(point)) return std::string(HookPointSuffix(point));
  const std::string l = layer == kEveryLayer ? "*" : std::to_string(layer);
  return "blocks." + l + "." + std::string(HookPointSuffix(point));
}

std::vector<std::string> AllHookNames(const ModelConfig& config) {
  std::vector<std::string> names = {HookNameString(HookPoint::kEmbed, kNoLayer)};
  for (int64_t l = 0; l < config.n_layer; ++l)
    for (const PointName& p : kPoints)
      if (p.per_layer) names.push_back(HookNameString(p.point, l));
  names.push_back(HookNameString(HookPoint::kLnFinal, kNoLayer));
  names.push_back(HookNameString(HookPoint::kLogits, kNoLayer));
  return names;
}

int64_t HookRowWidth(const ModelConfig& config, HookPoint point) {
  switch (point) {
    case HookPoint::kPattern:
      return 0;
    case HookPoint::kMlpPre:
    case HookPoint::kMlpPost:
      return config.intermediate_size;
    case HookPoint::kLogits:
      return config.vocab_size;
    default:
      return config.n_embd;  // q, k, v and z are [n_head * head_dim] = [n_embd] too
  }
}

void HookSet::Add(std::string_view name, HookFn fn, HookAccess access, int64_t row_width) {
  Add(ParseHookName(name), std::move(fn), access, row_width);
}

void HookSet::Add(HookName name, HookFn fn, HookAccess access, int64_t row_width) {
  const std::string what = "hook '" + HookNameString(name.point, name.layer) + "': ";
  Check(static_cast<bool>(fn), what + "no function");
  Check(row_width == 0 || name.point != HookPoint::kPattern,
        what + "hook_pattern rows have no fixed width");
  entries_.push_back({name, std::move(fn), access, row_width});
}

void HookSet::Append(const HookSet& other) {
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

void HookSet::Validate(const ModelConfig& config) const {
  for (const Entry& e : entries_) {
    const std::string what = "hook '" + HookNameString(e.name.point, e.name.layer) + "': ";
    if (e.name.layer >= config.n_layer)
      throw Error(what + "block " + std::to_string(e.name.layer) + " out of range: the model has " +
                  std::to_string(config.n_layer) + " blocks (0.." +
                  std::to_string(config.n_layer - 1) + ")");
    const int64_t width = HookRowWidth(config, e.name.point);
    if (e.row_width != 0 && e.row_width != width)
      throw Error(what + "a vector of width " + std::to_string(e.row_width) +
                  " does not fit rows of width " + std::to_string(width));
  }
}

bool HookSet::Wants(HookPoint point, int64_t layer) const {
  for (const Entry& e : entries_)
    if (e.Matches(point, layer)) return true;
  return false;
}

bool HookSet::Writes(HookPoint point, int64_t layer) const {
  for (const Entry& e : entries_)
    if (e.Matches(point, layer) && e.access == HookAccess::kWrite) return true;
  return false;
}

void HookSet::Run(const HookCall& call) const {
  for (const Entry& e : entries_)
    if (e.Matches(call.point, call.layer)) e.fn(call);
}

}  // namespace talkie::model
