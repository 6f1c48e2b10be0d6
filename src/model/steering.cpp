// Control vectors and directional ablation as hooks (see steering.h).
#include "model/steering.h"

#include <cmath>
#include <cstring>
#include <string_view>
#include <utility>

#include "common/error.h"
#include "io/gguf.h"
#include "io/tensor_store.h"

namespace talkie::model {
namespace {

int64_t Rows(const HookCall& call) { return call.shape.empty() ? 0 : call.shape[0]; }

// "direction.12" -> 12; -1 when the name is not of that form.
int64_t DirectionIndex(std::string_view name) {
  constexpr std::string_view kPrefix = "direction.";
  if (name.substr(0, kPrefix.size()) != kPrefix || name.size() == kPrefix.size() ||
      name.size() > kPrefix.size() + 6)
    return -1;
  int64_t n = 0;
  for (char c : name.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

void CheckFinite(const std::vector<float>& v, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i)
    Check(std::isfinite(v[i]), what + ": element " + std::to_string(i) + " is not finite");
}

bool IsFloatType(io::DType d) {
  return d == io::DType::kF32 || d == io::DType::kF16 || d == io::DType::kBF16;
}

// The 1-D tensors of a GGUF or safetensors file, widened to float and checked
// (one vector each, float types, finite). A GGUF file must have
// general.architecture = `gguf_architecture` unless that is empty.
using NamedVectors = std::vector<std::pair<std::string, std::vector<float>>>;

NamedVectors ReadVectors(const std::string& path, std::string_view gguf_architecture) {
  const auto file = io::MappedFile::Open(path);
  NamedVectors out;
  if (io::HasGgufMagic(file->data(), file->size())) {
    const io::GgufFile gguf = io::ParseGguf(file->data(), file->size(), path);
    if (!gguf_architecture.empty()) {
      const io::GgufValue* arch = gguf.Find("general.architecture");
      Check(arch != nullptr && arch->type == io::GgufType::kString,
            path + ": not a control vector (no general.architecture)");
      Check(arch->s == gguf_architecture, path + ": general.architecture is '" + arch->s +
                                              "', not '" + std::string(gguf_architecture) +
                                              "' (is this a model file?)");
    }
    for (const io::GgufTensor& t : gguf.tensors()) {
      Check(t.type != nullptr && std::string_view(t.type->name) == "F32",
            path + ": " + t.name + " is " + (t.type ? t.type->name : "of an unknown type") +
                ", control vectors are F32");
      Check(t.dims.size() == 1 || (t.dims.size() == 2 && t.dims[1] == 1),
            path + ": " + t.name + " must be one vector");
      std::vector<float> v(static_cast<size_t>(t.NumElements()));
      std::memcpy(v.data(), t.data, v.size() * sizeof(float));
      out.emplace_back(t.name, std::move(v));
    }
  } else {
    for (const io::TensorView& t :
         io::ParseSafetensors(file->data(), file->size(), path, nullptr)) {
      Check(IsFloatType(t.dtype), path + ": " + t.name + " is " +
                                      std::string(io::DTypeName(t.dtype)) +
                                      ", expected F32, F16 or BF16");
      Check(t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[0] == 1),
            path + ": " + t.name + " must be one vector");
      std::vector<float> v(static_cast<size_t>(t.NumElements()));
      for (int64_t i = 0; i < t.NumElements(); ++i) v[i] = io::ElementAsFloat(t, i);
      out.emplace_back(t.name, std::move(v));
    }
  }
  for (const auto& [name, v] : out) CheckFinite(v, path + ": " + name);
  return out;
}

}  // namespace

void AddVectorHook(HookSet& hooks, HookName name, std::vector<float> vector) {
  Check(!vector.empty(), "steering: empty vector");
  const auto width = static_cast<int64_t>(vector.size());
  hooks.Add(
      name,
      [v = std::move(vector), width](const HookCall& call) {
        for (int64_t r = 0; r < Rows(call); ++r) {
          float* row = call.data + r * width;
          for (int64_t i = 0; i < width; ++i) row[i] += v[i];
        }
      },
      HookAccess::kWrite, width);
}

void AddProjectOutHook(HookSet& hooks, HookName name, std::vector<float> direction) {
  double norm = 0;
  for (float d : direction) norm += static_cast<double>(d) * d;
  Check(!direction.empty() && std::isfinite(norm) && norm > 0,
        "directional ablation: the direction must be finite and non-zero");
  for (float& d : direction) d = static_cast<float>(d / std::sqrt(norm));
  const auto width = static_cast<int64_t>(direction.size());
  hooks.Add(
      name,
      [d = std::move(direction), width](const HookCall& call) {
        for (int64_t r = 0; r < Rows(call); ++r) {
          float* row = call.data + r * width;
          double dot = 0;
          for (int64_t i = 0; i < width; ++i) dot += static_cast<double>(row[i]) * d[i];
          const auto along = static_cast<float>(dot);
          for (int64_t i = 0; i < width; ++i) row[i] -= along * d[i];
        }
      },
      HookAccess::kWrite, width);
}

void AddAblationHooks(HookSet& hooks, const std::vector<float>& direction) {
  AddProjectOutHook(hooks, HookName{HookPoint::kResidPre, 0}, direction);
  AddProjectOutHook(hooks, HookName{HookPoint::kResidMid, kEveryLayer}, direction);
  AddProjectOutHook(hooks, HookName{HookPoint::kResidPost, kEveryLayer}, direction);
}

ControlVector LoadControlVector(const std::string& path) {
  ControlVector cv;
  cv.origin = path;
  for (auto& [name, v] : ReadVectors(path, "controlvector")) {
    const int64_t layer = DirectionIndex(name);
    Check(layer >= 0, path + ": tensor '" + name + "' is not named direction.N");
    cv.directions[layer] = std::move(v);
  }
  Check(!cv.directions.empty(), path + ": the control vector has no direction.N tensors");
  cv.width = static_cast<int64_t>(cv.directions.begin()->second.size());
  for (const auto& [layer, v] : cv.directions)
    Check(static_cast<int64_t>(v.size()) == cv.width,
          path + ": direction." + std::to_string(layer) + " has " + std::to_string(v.size()) +
              " values, direction." + std::to_string(cv.directions.begin()->first) + " has " +
              std::to_string(cv.width));
  return cv;
}

std::vector<float> LoadDirection(const std::string& path) {
  NamedVectors file = ReadVectors(path, "");
  Check(file.size() == 1,
        path + ": a direction file holds exactly one tensor, found " + std::to_string(file.size()));
  return std::move(file[0].second);
}

HookSet MakeSteeringHooks(const SteeringPlan& plan, const ModelConfig& config) {
  const int64_t n_layer = config.n_layer;
  const int64_t start = plan.layer_start < 0 ? 0 : plan.layer_start;
  const int64_t end = plan.layer_end < 0 ? n_layer - 1 : plan.layer_end;
  Check(start < n_layer && end < n_layer && start <= end,
        "--control-vector-layer-range " + std::to_string(plan.layer_start) + " " +
            std::to_string(plan.layer_end) + ": the model has blocks 0.." +
            std::to_string(n_layer - 1));
  HookSet hooks;
  std::map<int64_t, std::vector<float>> per_layer;  // the scaled sum per block
  for (const ScaledControlVector& s : plan.vectors) {
    const ControlVector& cv = s.vector;
    Check(std::isfinite(s.scale), cv.origin + ": the scale is not finite");
    Check(cv.width == config.n_embd, cv.origin + ": the vectors have " + std::to_string(cv.width) +
                                         " values, the model's n_embd is " +
                                         std::to_string(config.n_embd));
    for (const auto& [layer, v] : cv.directions) {
      Check(layer < n_layer, cv.origin + ": direction." + std::to_string(layer) +
                                 " names a block the model lacks (blocks 0.." +
                                 std::to_string(n_layer - 1) + ")");
      if (layer < start || layer > end) continue;
      std::vector<float>& sum = per_layer[layer];
      const bool first = sum.empty();
      if (first) sum.assign(v.size(), 0.0f);
      for (size_t i = 0; i < v.size(); ++i) {
        // Scale 1 on its own: the stored values, so resid_post gets exactly x + v.
        const float term = s.scale == 1.0f ? v[i] : s.scale * v[i];
        sum[i] = first ? term : sum[i] + term;
      }
    }
  }
  for (auto& [layer, v] : per_layer) {
    CheckFinite(v, "control vectors: the scaled sum for block " + std::to_string(layer));
    AddVectorHook(hooks, HookName{HookPoint::kResidPost, layer}, std::move(v));
  }
  for (const std::vector<float>& d : plan.ablations) {
    Check(static_cast<int64_t>(d.size()) == config.n_embd,
          "directional ablation: the direction has " + std::to_string(d.size()) +
              " values, the model's n_embd is " + std::to_string(config.n_embd));
    AddAblationHooks(hooks, d);
  }
  return hooks;
}

}  // namespace talkie::model
