// The public Hooks: talkie::HookFunction adapted to model::HookSet, plus the
// two patches every steering tool needs (add a vector, project one out).
#include "talkie/hooks.h"

#include <cmath>

#include "api/access.h"
#include "common/error.h"
#include "model/hooks.h"
#include "model/steering.h"

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
  model::AddVectorHook(*impl_, model::ParseHookName(name), std::move(vector));
  return *this;
}

Hooks& Hooks::ProjectOut(const std::string& name, std::vector<float> direction) {
  double norm = 0;
  for (float d : direction) norm += static_cast<double>(d) * d;
  Check(!direction.empty() && std::isfinite(norm) && norm > 0,
        "Hooks::ProjectOut('" + name + "'): the direction must be finite and non-zero");
  model::AddProjectOutHook(*impl_, model::ParseHookName(name), std::move(direction));
  return *this;
}

Hooks& Hooks::AddControlVector(const std::string& path, float scale, int64_t first_block,
                               int64_t last_block) {
  Check(std::isfinite(scale), "Hooks::AddControlVector('" + path + "'): scale is not finite");
  Check(last_block < 0 || first_block <= last_block,
        "Hooks::AddControlVector('" + path + "'): first_block > last_block");
  const model::ControlVector cv = model::LoadControlVector(path);
  for (const auto& [layer, v] : cv.directions) {
    if (layer < first_block || (last_block >= 0 && layer > last_block)) continue;
    std::vector<float> scaled = v;
    if (scale != 1.0f)
      for (float& x : scaled) x *= scale;
    for (float x : scaled)
      Check(std::isfinite(x), "Hooks::AddControlVector('" + path + "'): scaled values overflow");
    // A block the model lacks or a width other than n_embd is reported when
    // the forward starts (HookSet::Validate), naming the hook.
    model::AddVectorHook(*impl_, model::HookName{model::HookPoint::kResidPost, layer},
                         std::move(scaled));
  }
  return *this;
}

Hooks& Hooks::AblateDirection(std::vector<float> direction) {
  Check(!direction.empty(), "Hooks::AblateDirection: empty direction");
  model::AddAblationHooks(*impl_, direction);
  return *this;
}

bool Hooks::empty() const { return impl_->empty(); }

std::vector<std::string> Hooks::Names(const ModelConfig& config) {
  return model::AllHookNames(InternalShape(config));
}

std::vector<std::string> Hooks::Expand(const std::string& name, const ModelConfig& config) {
  const model::HookName n = model::ParseHookName(name);
  if (n.layer == model::kNoLayer) return {name};
  if (n.layer != model::kEveryLayer) {
    Check(n.layer < config.n_layer, name + ": layer " + std::to_string(n.layer) +
                                        " is out of range; the model has " +
                                        std::to_string(config.n_layer) + " blocks (0.." +
                                        std::to_string(config.n_layer - 1) + ")");
    return {name};
  }
  std::vector<std::string> names;
  for (int64_t l = 0; l < config.n_layer; ++l) names.push_back(model::HookNameString(n.point, l));
  return names;
}

int64_t Hooks::RowWidth(const std::string& name, const ModelConfig& config) {
  return model::HookRowWidth(InternalShape(config), model::ParseHookName(name).point);
}

}  // namespace talkie
