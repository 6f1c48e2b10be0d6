// Runs whole prompts through Forward: several prompts become one left-padded
// batch, optionally fed through the KV cache `chunk` tokens at a time, and the
// results are handed back per sequence for its real tokens only. This is what
// `talkie forward` does, and what the invariance tests compare.
#pragma once

#include <cstdint>
#include <vector>

#include "model/hooks.h"
#include "model/model.h"

namespace talkie::model {

struct PromptRunOptions {
  int64_t chunk = 0;  // tokens per Forward call; 0 = all at once
  bool output_hidden_states = false;
  bool output_attentions = false;
  int32_t pad_id = 0;              // token id placed in padded slots (masked anyway)
  const HookSet* hooks = nullptr;  // run on every Forward call (hooks.h)
};

struct SequenceOutputs {
  std::vector<float> logits;                      // [len, vocab]
  std::vector<std::vector<float>> hidden_states;  // n_layer + 1 x [len, n_embd]
  std::vector<std::vector<float>> attentions;     // n_layer x [n_head, len, len]
};

std::vector<SequenceOutputs> RunPrompts(const Model& model,
                                        const std::vector<std::vector<int32_t>>& prompts,
                                        const PromptRunOptions& options);

}  // namespace talkie::model
