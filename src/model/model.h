// A loaded Talkie model: config, weights bound to the memory-mapped checkpoint,
// RoPE tables, and a description of what was loaded (for `talkie info`).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/tensor_store.h"
#include "model/config.h"
#include "ops/rope.h"
#include "ops/weights.h"

namespace talkie::model {

// Spec §2 names. Matrices are [out, in].
struct BlockWeights {
  ops::WeightMatrix attn_query, attn_key, attn_value, attn_resid;  // Wq, Wk, Wv, Wo
  ops::WeightMatrix mlp_gate, mlp_linear, mlp_resid;               // gate, up, down
  std::vector<float> head_gain;                                    // [n_head], q only
  float attn_gain = 1.0f;
  float mlp_gain = 1.0f;
  float embed_skip = 0.0f;
};

struct TalkieWeights {
  ops::WeightMatrix embed;    // [vocab, n_embd]
  ops::WeightMatrix lm_head;  // [vocab, n_embd], scale = lm_head_gain
  std::vector<BlockWeights> blocks;

  // The matrices every forward step multiplies by: lm_head and each block's
  // seven (the embedding is gathered row by row, never multiplied).
  std::vector<const ops::WeightMatrix*> MatMuls() const;
  std::vector<ops::WeightMatrix*> MatMuls();
};

struct LoadInfo {
  std::string path;                  // what the user gave
  std::string checkpoint_format;     // "safetensors", "safetensors-sharded", "pytorch-zip"
  std::string name_layout;           // "hf-port" or "original"
  std::string config_source;         // config.json path, or "inferred from tensors"
  bool lm_head_gain_present = true;  // false: folded lm_head, gain taken as 1
  bool orig_mod_prefix = false;      // names carried torch.compile's "_orig_mod."
  std::vector<std::string> files;
  uint64_t file_bytes = 0;
  int64_t n_parameters = 0;
  std::map<std::string, int64_t> dtype_tensor_counts;  // "BF16" -> count
  std::vector<std::string> unknown_tensors;            // present but not used
  std::string quantization = "none";                   // "q8" / "q4" when quantized
  std::string gguf_types;                              // GGUF: "Q8_0 x 21, F32 x 8", else empty
};

class Model {
 public:
  // Loads a model directory or a single checkpoint file, detecting the layout
  // (spec §3). Throws talkie::Error naming the file / tensor / field.
  static std::unique_ptr<Model> Load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const TalkieWeights& weights() const { return weights_; }
  const ops::RopeTable& rope() const { return rope_; }
  const LoadInfo& info() const { return info_; }
  const std::string& directory() const { return directory_; }
  // Where the model's tokenizer is found (Tokenizer::FromPath): the GGUF
  // file when it carries one, else directory().
  const std::string& tokenizer_path() const { return tokenizer_path_; }

  // Prepares every matmul weight (not the embedding) for a precision policy
  // (ops/weights.h). kFast repacks q8 / q4 matrices for the int8 kernels
  // (matmul_lowp.h, same size as the originals) and hands the checkpoint's
  // pages for them back to the OS; kExact frees the copies again. Packing
  // reports its progress (model/load_progress.h); when that throws, the
  // model stays on its old policy.
  void SetPrecision(ops::Precision precision);
  ops::Precision precision() const { return precision_; }

 private:
  struct FreeDeleter {
    void operator()(uint8_t* p) const;
  };
  Model() = default;
  // SetPrecision's loop: sets every matmul weight's policy, packing q8 / q4.
  void PackAll(ops::Precision precision, const std::string& stage, uint64_t total);
  io::TensorStore store_;
  ModelConfig config_;
  TalkieWeights weights_;
  ops::RopeTable rope_;
  LoadInfo info_;
  std::string directory_;  // folder holding the checkpoint
  std::string tokenizer_path_;
  ops::Precision precision_ = ops::Precision::kExact;
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> packed_;  // kFast q8 / q4 copies
};

}  // namespace talkie::model
