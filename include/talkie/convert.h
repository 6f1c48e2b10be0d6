// Converting checkpoints: a q8 / q4 group-quantized copy of a loaded model, a
// GGUF file for llama.cpp, a random-weight model at a real Talkie shape (for
// benchmarks without a download), and how far one model's logits are from
// another's (what a conversion or the fast policy costs).
//
//   talkie::Model model = talkie::Model::Load("talkie-1930");
//   talkie::Quantize(model, talkie::QuantType::kQ8, "talkie-1930-q8");
//   talkie::Tokenizer tok = talkie::Tokenizer::ForModel(model);
//   talkie::ExportGguf(model, talkie::GgufType::kQ4_0, "talkie-q4.gguf", &tok);
//
// Every file is written through a temporary file in the same folder that is
// renamed into place once complete, so an existing file (even one another
// process has memory-mapped) is never truncated, and a failed or abandoned
// write leaves it as it was. No function writes over the model it reads.
// Whether an existing output may be replaced is the caller's decision.
//
// Errors: talkie::Error naming the file or argument (a missing or unwritable
// folder, an output that is the input model's, a bad type name).
//
// Thread safety: the functions only read the Model (which may be used by
// other threads at the same time) and run with its engine's thread count;
// two calls may not write the same path at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "talkie/engine.h"
#include "talkie/export.h"

namespace talkie {

class Model;
class Tokenizer;

// Talkie's own group quantization (32 values per f16 scale).
enum class QuantType { kQ8, kQ4 };

// Writes out_dir/model.safetensors and config.json (out_dir is created when
// missing), copying the tokenizer files of the model's folder: every matrix
// whose row length is a multiple of 32 as `type`, everything else as f32.
// The copy loads with Model::Load. `progress` hears the bytes written
// ("writing model.safetensors"). Error when out_dir is the model's folder.
TALKIE_API void Quantize(const Model& model, QuantType type, const std::string& out_dir,
                         const ProgressCallback& progress = {});

// Matrix types of a GGUF file (vectors are always F32; a matrix whose width
// is not a multiple of 32 stays F32 in the quantized types). kQ8_0 / kQ4_0
// hold the values of QuantType kQ8 / kQ4 in ggml's blocks, so the file loads
// back here with the logits of the Quantize copy, bit for bit.
enum class GgufType { kF32, kBF16, kQ8_0, kQ4_0 };

// "f32", "bf16", "q8" / "q8_0", "q4" / "q4_0"; Error otherwise.
TALKIE_API GgufType ParseGgufType(const std::string& name);

// Writes `model` as one GGUF file in llama.cpp's upstream Talkie layout (it
// runs in llama.cpp and loads back with Model::Load), one tensor in memory at
// a time. With `tokenizer` (not owned) the file carries it as llama.cpp's
// tokenizer.ggml.* metadata; without, llama.cpp runs the file on token ids.
// `progress` hears the bytes written ("writing <file name>"). Error when
// `path` is a file of the model or one beside it in its folder (tokenizer,
// config).
TALKIE_API void ExportGguf(const Model& model, GgufType type, const std::string& path,
                           const Tokenizer* tokenizer = nullptr,
                           const ProgressCallback& progress = {});

// Element type of a synthetic model's weights.
enum class WeightType { kBF16, kF16, kF32 };

// Writes config.json and model.safetensors of a random-weight Talkie model
// into `dir` (created when missing). `shape`: "talkie-13b" (the real models'
// shape), "talkie-1b" (hidden 2048, 16 layers, 16 x 128 heads, MLP 5504,
// vocab 65540) or "talkie-tiny" (the bundled model's); Error for other names.
// Weights are N(0, 1/fan_in) from `seed` (the same seed gives the same file),
// generated one tensor at a time, so even the 13B shape needs little memory.
// `progress` hears the bytes written ("writing model.safetensors").
TALKIE_API void WriteSyntheticModel(const std::string& dir, const std::string& shape,
                                    WeightType type = WeightType::kBF16, uint64_t seed = 1,
                                    const ProgressCallback& progress = {});

// How far a candidate model's logits are from a reference's on one text.
struct LogitComparison {
  double mean_kl = 0.0;  // mean KL(reference || candidate) per position, nats
  double max_kl = 0.0;
  double top1_agreement = 0.0;  // fraction of positions with the same argmax
  double max_abs_logit_diff = 0.0;
  int64_t positions = 0;
  bool finite = true;  // false: the candidate produced a NaN / inf logit
};

// Compares the all-position logits of two models of one vocabulary on `ids`
// (windows of at most `window` tokens; 0 = the shorter context length), each
// model under its own precision policy (e.g. the same weights loaded with the
// exact and the fast policy), with the reference's engine's thread count.
// Error for a vocabulary mismatch or no ids.
TALKIE_API LogitComparison CompareLogits(const Model& reference, const Model& candidate,
                                         const std::vector<int32_t>& ids, int64_t window = 0);

}  // namespace talkie
