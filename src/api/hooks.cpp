// The public Hooks: talkie::HookFunction adapted to model::HookSet, plus the
// two patches every steering tool needs (add a vector, project one out).
#include "talkie/hooks.h"

#include <cmath>

#include "api/access.h"
#include "common/error.h"
#include "model/hooks.h"

namespace talkie {

size_t HookEvent::size() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

Hooks::Hooks() : impl_(std::make_shared<model::HookSet>()) {}
Hooks::~Hooks() = default;
Hooks::Hooks(const Hooks& other) : impl_(std::make_shared<model::HookSet>(*other.impl_)) {}
Hooks& Hooks::operator=(const Hooks& other) {
  if (this != &other) impl_ = std::make_shared<model::HookSet>(*other.impl_);
  return *this;
}
Hooks::Hooks(Hooks&&) noexcept = default;
Hooks& Hooks::operator=(Hooks&&) noexcept = default;

namespace {

HookEvent ToEvent(const model::HookCall& call) {
  HookEvent e;
  e.name = model::HookNameString(call.point, call.layer);
  e.layer = call.layer;
  e.sequence = call.sequence;
  e.slots = call.slots;
  e.positions = call.positions;
  e.data = call.data;
  e.shape = call.shape;
  return e;
}

// Rows of a call as [rows, width] (q / k / v / z rows are n_head * head_dim).
int64_t RowCount(const model::HookCall& call) { return call.shape.empty() ? 0 : call.shape[0]; }

}  // namespace

Hooks& Hooks::Add(const std::string& name, HookFunction fn, bool read_only) {
  Check(static_cast<bool>(fn), "Hooks::Add('" + name + "'): no function");
  impl_->Add(
      name, [fn = std::move(fn)](const model::HookCall& call) { fn(ToEvent(call)); },
      read_only ? model::HookAccess::kRead : model::HookAccess::kWrite);
  return *this;
}

Hooks& Hooks::AddVector(const std::string& name, std::vector<float> vector, float scale) {
  Check(!vector.empty(), "Hooks::AddVector('" + name + "'): empty vector");
  Check(std::isfinite(scale), "Hooks::AddVector('" + name + "'): scale is not finite");
  for (float& v : vector) {
    v *= scale;  // scaled once, so a row gets exactly x + (scale * v)
    Check(std::isfinite(v), "Hooks::AddVector('" + name + "'): the vector is not finite");
  }
  const auto width = static_cast<int64_t>(vector.size());
  impl_->Add(
      name,
      [v = std::move(vector), width](const model::HookCall& call) {
        for (int64_t r = 0; r < RowCount(call); ++r) {
          float* row = call.data + r * width;
          for (int64_t i = 0; i < width; ++i) row[i] += v[i];
        }
      },
      model::HookAccess::kWrite, width);
  return *this;
}

Hooks& Hooks::ProjectOut(const std::string& name, std::vector<float> direction) {
  double norm = 0;
  for (float d : direction) norm += static_cast<double>(d) * d;
  Check(!direction.empty() && std::isfinite(norm) && norm > 0,
        "Hooks::ProjectOut('" + name + "'): the direction must be finite and non-zero");
  for (float& d : direction) d = static_cast<float>(d / std::sqrt(norm));
  const auto width = static_cast<int64_t>(direction.size());
  impl_->Add(
      name,
      [d = std::move(direction), width](const model::HookCall& call) {
        for (int64_t r = 0; r < RowCount(call); ++r) {
          float* row = call.data + r * width;
          double dot = 0;  // in index order: the same bits for a row wherever it runs
          for (int64_t i = 0; i < width; ++i) dot += static_cast<double>(row[i]) * d[i];
          const auto along = static_cast<float>(dot);
          for (int64_t i = 0; i < width; ++i) row[i] -= along * d[i];
        }
      },
      model::HookAccess::kWrite, width);
  return *this;
}

bool Hooks::empty() const { return impl_->empty(); }

std::vector<std::string> Hooks::Names(const ModelConfig& config) {
  model::ModelConfig c;
  c.n_layer = config.n_layer;
  return model::AllHookNames(c);
}

}  // namespace talkie
