// Talkie GGUF files (llama.cpp's conversion) as a checkpoint: the GGUF
// metadata becomes a ModelConfig, and the tensors are renamed to the
// original release's names (spec §3) with the converter's transformations
// undone, so Model::Load binds them like any other layout.
//
// llama.cpp's converter (conversion/talkie.py, TalkieModel) writes:
//   token_embd / output              <- embed / lm_head
//   blk.N.attn_q|k|v|output          <- attn_query|key|value|resid, with the
//       second half of every q and k head's rows negated (it absorbs Talkie's
//       inverted RoPE so that llama.cpp can use its standard one)
//   blk.N.attn_q_norm [1, n_head]    <- head_gain
//   blk.N.ffn_gate|up|down           <- mlp_gate|linear|resid
//   blk.N.attn_output.scale / ffn_down.scale [1] <- attn_gain / mlp_gain
//   blk.N.layer_output_scale [1]     <- embed_skip
//   metadata talkie.logit_scale      <- lm_head_gain
// Weights in F32 / F16 / BF16 are used in place (q and k: a sign-flipped
// copy); Q8_0 and Q4_0 are re-laid into talkie's own q8 / q4 format (the same
// codes and scales, so the same values exactly); the ggml block types
// (ops/ggml_blocks.h) are used in place as <name>.<TYPE> byte views, q and k
// with a <name>.negated_rows flag per row.
#pragma once

#include <memory>
#include <string>

#include "io/tensor_store.h"
#include "model/config.h"

namespace talkie::model {

struct GgufCheckpoint {
  io::TensorStore store;  // original-release names
  ModelConfig config;
  std::string variant;         // "llama.cpp upstream (q/k RoPE-flipped)"
  std::string file_types;      // e.g. "Q8_0 x 21, F32 x 8"
  bool has_tokenizer = false;  // tokenizer.ggml.* metadata present
};

// Throws Error naming the file and the key / tensor at fault, including
// tensor types this engine cannot compute on yet (Q2_K, Q3_K, the other IQ
// types, ...).
GgufCheckpoint LoadGgufCheckpoint(const std::string& path);

}  // namespace talkie::model
