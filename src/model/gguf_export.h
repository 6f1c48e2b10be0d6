// Writes a model as a GGUF file in llama.cpp's upstream Talkie layout: the
// one its converter (convert_hf_to_gguf.py, TalkieModel) writes and its
// loader reads, so a model quantized here runs in llama.cpp. The reverse of
// gguf_checkpoint.h: the second half of every q / k head's rows negated
// (llama.cpp's RoPE absorbs Talkie's inverted one; for Q8_0 / Q4_0 the block
// scale's sign flips, which is exact), head_gain as attn_q_norm [n_head, 1],
// the gains as attn_output.scale / ffn_down.scale / layer_output_scale, the
// lm_head gain as talkie.logit_scale.
#pragma once

#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/model.h"

namespace talkie::model {

// Matrix element types of the file; vectors are always F32, and a matrix
// whose width is not a multiple of 32 stays F32 in the quantized types.
//   kQ8_0 / kQ4_0: the values of talkie's own q8 / q4 (quantize.h), in
//   ggml's blocks, so the file loads back here bit for bit as `talkie
//   quantize --type q8 / q4` would.
enum class GgufExportType { kF32, kBF16, kQ8_0, kQ4_0 };

// Parses "f32", "bf16", "q8" / "q8_0", "q4" / "q4_0" (Error otherwise).
GgufExportType ParseGgufExportType(const std::string& name);

// Writes `model` to `path` through a temporary file renamed into place, one
// tensor in memory at a time, with `tokenizer_metadata`
// (tokenizer/gguf_metadata.h). Without it the file says tokenizer.ggml.model
// "none": llama.cpp runs such a file on token ids. `progress` (optional)
// hears the bytes written.
void ExportGguf(const Model& model, GgufExportType type, const std::string& path,
                const std::vector<io::GgufEntry>& tokenizer_metadata = {},
                const io::WriteProgress& progress = {});

}  // namespace talkie::model
