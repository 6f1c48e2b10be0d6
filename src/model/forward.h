// The forward pass over a batch (spec §2 and the inference contract of §5):
// B sequences x q_len new tokens, an optional attention mask and position ids,
// a KV cache that carries earlier tokens, and optional hidden states and
// attention maps.
//
// Guarantee: every output element is computed by the same arithmetic in the
// same order whatever the batch composition, padding, chunking of the prompt
// into calls, or thread count, so all of those give bit-identical results for
// a sequence's real tokens (see docs/architecture.md, "Determinism").
#pragma once

#include <cstdint>
#include <vector>

#include "model/hooks.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace talkie::model {

enum class LogitsFor { kAll, kLast, kNone, kSelected };

struct ForwardInput {
  int64_t batch = 1;
  int64_t q_len = 0;
  std::vector<int32_t> ids;  // [batch, q_len] token ids, row-major
  // Instead of ids: [batch, q_len, n_embd] rows used in place of embed[ids]
  // (soft prompts, attribution; Transformers' inputs_embeds). ids stays empty.
  std::vector<float> inputs_embeds;
  std::vector<uint8_t> attention_mask;  // empty, [batch, kv_len] or [batch, q_len]; 1 = real
  std::vector<int64_t> position_ids;    // empty or [batch, q_len]
  bool output_hidden_states = false;
  bool output_attentions = false;
  LogitsFor logits = LogitsFor::kAll;
  std::vector<int64_t> logit_positions;  // with kSelected: indices in [0, q_len)
  // A row whose keys are all padding is an error unless this is set: chunked
  // prefill of a left-padded batch legitimately feeds such rows (a short
  // prompt's leading pads); their outputs are meaningless and must be ignored.
  bool allow_padding_only_rows = false;
  // Hook points to read or patch (hooks.h); each call is one batch row.
  // Must outlive the call. Null or empty: no hook work at all.
  const HookSet* hooks = nullptr;
};

struct ForwardOutput {
  int64_t batch = 0, q_len = 0, kv_len = 0;
  std::vector<int64_t> logit_positions;  // which of the q_len positions have logits
  std::vector<float> logits;             // [batch, logit_positions.size(), vocab]
  // n_layer + 1 tensors [batch, q_len, n_embd]: 0 = rms(embedding), i = output
  // of block i-1, n_layer = final rms-normed state (Transformers convention).
  std::vector<std::vector<float>> hidden_states;
  // n_layer tensors [batch, n_head, q_len, kv_len] of float32 softmax weights.
  std::vector<std::vector<float>> attentions;
  // The position ids used, [batch, q_len] (given or derived from the mask).
  std::vector<int64_t> position_ids;
};

// Runs the new tokens through the model, appending their K/V to `cache`
// (whose batch must equal input.batch). Throws talkie::Error naming the
// argument for any inconsistent input; the cache is unchanged on error.
ForwardOutput Forward(const Model& model, KvCache& cache, const ForwardInput& input);

// A ragged batch for continuous batching: each sequence brings its own
// batch-1 cache (no padding; positions continue from its length) and any
// number of new tokens. Returns, per sequence, the logits rows it asked for
// ([q_len or 1 or 0, vocab]); bit-identical to running it alone.
struct SequenceStep {
  KvCache* cache = nullptr;
  std::vector<int32_t> ids;
  LogitsFor logits = LogitsFor::kLast;  // kAll, kLast or kNone
  const HookSet* hooks = nullptr;       // this sequence's hooks (hooks.h), or none
  int64_t sequence_id = -1;             // HookCall::sequence; -1: its index in the steps
};
std::vector<std::vector<float>> ForwardRagged(const Model& model,
                                              const std::vector<SequenceStep>& steps);

// One sequence from scratch, logits for every position.
ForwardOutput ForwardSequence(const Model& model, const std::vector<int32_t>& ids,
                              bool output_hidden_states = false, bool output_attentions = false);

}  // namespace talkie::model
