// The activation arena of one forward step (as gemma.cpp's Activations or
// llama2.c's RunState): every buffer the layer loop reads or writes, sized
// once for the step's rows and reused by every block, so the loop itself
// allocates nothing. Buffers keep their capacity, so an arena reused for
// another step of the same shape allocates nothing either.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"
#include "ops/attention.h"

namespace talkie::model {

struct Activations {
  // Sizes every buffer for `rows` activation rows of model `c`.
  void Resize(const ModelConfig& c, int64_t rows) {
    const auto embd = static_cast<size_t>(rows * c.n_embd);
    const auto ff = static_cast<size_t>(rows * c.intermediate_size);
    for (std::vector<float>* b : {&x, &skip, &normed, &q, &k, &v, &attended, &projected})
      b->resize(embd);
    gate.resize(ff);
    up.resize(ff);
  }

  // [rows, n_embd]: the residual stream, the embedding skip e, rms(x), the
  // projections, attention's output before W_o, and a block's output (W_o or
  // W_down) before its gain.
  std::vector<float> x, skip, normed, q, k, v, attended, projected;
  // [rows, intermediate_size]: the MLP's gate (then silu(gate) * up) and up.
  std::vector<float> gate, up;
  // Attention's per-sequence views (their cache pointers change per layer)
  // and its per-thread buffers.
  std::vector<ops::AttentionSequence> attention;
  ops::AttentionScratch attention_scratch;
  // Per sequence: its [n_head, q_len, kv_len] softmax weights, kept only
  // while a hook_pattern hook of that sequence asks for them.
  std::vector<std::vector<float>> patterns;
};

}  // namespace talkie::model
