// The public Steering: a named model::SteeringPlan (model/steering.h).
#include "talkie/steering.h"

#include <cmath>
#include <filesystem>
#include <utility>

#include "api/access.h"
#include "model/steering.h"
#include "talkie/error.h"
#include "talkie/model.h"

namespace talkie {

Steering::Steering() : plan_(std::make_unique<model::SteeringPlan>()) {}
Steering::~Steering() = default;
Steering::Steering(const Steering& other)
    : plan_(std::make_unique<model::SteeringPlan>(*other.plan_)), names_(other.names_) {}
Steering& Steering::operator=(const Steering& other) {
  if (this != &other) {
    *plan_ = *other.plan_;
    names_ = other.names_;
  }
  return *this;
}
Steering::Steering(Steering&&) noexcept = default;
Steering& Steering::operator=(Steering&&) noexcept = default;

Steering& Steering::AddControlVector(const std::string& path, float scale, std::string name) {
  Check(std::isfinite(scale), "control vector " + path + ": the scale must be a finite number");
  std::error_code ec;
  Check(std::filesystem::is_regular_file(path, ec), "control vector " + path + ": no such file");
  if (name.empty()) name = std::filesystem::path(path).stem().string();
  plan_->vectors.push_back({model::LoadControlVector(path), scale});
  names_.push_back(std::move(name));
  return *this;
}

Steering& Steering::SetLayerRange(int64_t first, int64_t last) {
  Check(first >= 0 && first <= last, "control vector layer range " + std::to_string(first) + " " +
                                         std::to_string(last) + ": need 0 <= first <= last");
  plan_->layer_start = first;
  plan_->layer_end = last;
  return *this;
}

Steering& Steering::AddAblation(const std::string& path) {
  std::error_code ec;
  Check(std::filesystem::is_regular_file(path, ec),
        "ablation direction " + path + ": no such file");
  plan_->ablations.push_back(model::LoadDirection(path));
  return *this;
}

bool Steering::empty() const { return plan_->empty(); }

std::vector<std::pair<std::string, float>> Steering::control_vectors() const {
  std::vector<std::pair<std::string, float>> out;
  for (const model::ScaledControlVector& v : plan_->vectors)
    out.emplace_back(v.vector.origin, v.scale);
  return out;
}

Hooks Steering::MakeHooks(const ModelConfig& config,
                          const std::map<std::string, float>& scales) const {
  model::SteeringPlan plan = *plan_;
  for (const auto& [name, scale] : scales) {
    int matches = 0;
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) {
        plan.vectors[i].scale = scale;
        ++matches;
      }
    Check(matches > 0, "control vector '" + name + "' is not loaded");
    Check(matches == 1, "two control vectors are named '" + name + "'");
    Check(std::isfinite(scale), "control vector '" + name + "': the scale must be finite");
  }
  Hooks hooks;
  *ModelAccess::MutableInternal(hooks) = model::MakeSteeringHooks(plan, InternalShape(config));
  return hooks;
}

}  // namespace talkie
