// Reaching the internal objects behind the public handles, for the library's
// own implementation files (and the in-tree programs and tests built on it).
// Not installed.
#pragma once

#include <memory>
#include <utility>

#include "model/hooks.h"
#include "model/model.h"
#include "model/steering.h"
#include "talkie/hooks.h"
#include "talkie/model.h"
#include "talkie/steering.h"
#include "talkie/tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace talkie {

// The shape fields of a public config as the internal config (what hook and
// steering checks read).
model::ModelConfig InternalShape(const ModelConfig& config);

struct ModelAccess {
  static const model::Model& Internal(const Model& model);
  static model::KvCache& Internal(KvCache& cache) { return *cache.impl_; }
  static KvCache Wrap(model::KvCache cache);
  static const model::HookSet* Internal(const Hooks* hooks) {
    return hooks == nullptr ? nullptr : hooks->impl_.get();
  }
  static model::HookSet* MutableInternal(Hooks& hooks) { return hooks.impl_.get(); }
};

struct SteeringAccess {
  static const model::SteeringPlan& Plan(const Steering& s) { return *s.plan_; }
};

struct TokenizerAccess {
  static const tokenizer::Tokenizer& Internal(const Tokenizer& t) { return *t.impl_; }
  static Tokenizer Wrap(tokenizer::Tokenizer t) {
    return Tokenizer(std::make_unique<tokenizer::Tokenizer>(std::move(t)));
  }
};

}  // namespace talkie
