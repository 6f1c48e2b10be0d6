// Shape and hyper-parameters of a Talkie model (spec §1, §3).
// Read from config.json in either key family, or inferred from the tensors of
// a checkpoint that ships without one.
#pragma once

#include <cstdint>
#include <string>

namespace talkie::model {

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 2048;
  double rope_theta = 1e6;
  int64_t eos_token_id = -1;  // -1 when the config does not say
  std::string key_family;     // "transformers", "talkie-native" or "inferred"
};

// MLP width of the reference: round(8/3 * n_embd / 128) * 128 (Python round:
// ties to even).
int64_t TalkieMlpWidth(int64_t n_embd);

// Parses config.json text; `origin` names the file in errors. Accepts the
// Transformers keys (hidden_size, num_hidden_layers, ...) and the Talkie-native
// ones (n_embd, n_layer, n_head, ...). Validates that every size is positive
// and that n_head * head_dim == n_embd.
ModelConfig ParseConfigJson(const std::string& text, const std::string& origin);
ModelConfig LoadConfigFile(const std::string& path);

// Writes config.json with the Transformers keys.
void WriteConfigFile(const std::string& path, const ModelConfig& config,
                     const std::string& torch_dtype);

// Throws Error naming the field when the config is not usable.
void ValidateConfig(const ModelConfig& config, const std::string& origin);

}  // namespace talkie::model
