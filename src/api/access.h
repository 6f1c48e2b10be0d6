// Reaching the internal objects behind the public handles, for the library's
// own implementation files (and the in-tree programs and tests built on it).
// Not installed.
#pragma once

#include "model/hooks.h"
#include "model/model.h"
#include "talkie/hooks.h"
#include "talkie/model.h"
#include "talkie/tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace talkie {

struct ModelAccess {
  static const model::Model& Internal(const Model& model);
  static model::KvCache& Internal(KvCache& cache) { return *cache.impl_; }
  static KvCache Wrap(model::KvCache cache);
  static const model::HookSet* Internal(const Hooks* hooks) {
    return hooks == nullptr ? nullptr : hooks->impl_.get();
  }
};

struct TokenizerAccess {
  static const tokenizer::Tokenizer& Internal(const Tokenizer& t) { return *t.impl_; }
};

}  // namespace talkie
