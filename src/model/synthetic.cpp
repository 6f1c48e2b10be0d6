// WriteSyntheticModel (see synthetic.h).
#include "model/synthetic.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/tensor_store.h"

namespace talkie::model {
namespace {

void StoreValue(io::DType dtype, float v, std::byte* out) {
  switch (dtype) {
    case io::DType::kF32:
      std::memcpy(out, &v, 4);
      break;
    case io::DType::kBF16: {
      const uint16_t h = io::FloatToBf16(v);
      std::memcpy(out, &h, 2);
      break;
    }
    case io::DType::kF16: {
      const uint16_t h = io::FloatToF16(v);
      std::memcpy(out, &h, 2);
      break;
    }
    default:
      throw Error("synthetic model: dtype must be F32, F16 or BF16");
  }
}

}  // namespace

void WriteSyntheticModel(const std::string& dir, const ModelConfig& c, io::DType dtype, uint64_t seed) {
  ValidateConfig(c, "synthetic config");
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<io::OwnedTensor> tensors;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float stddev, float mean = 0.0f) {
    io::OwnedTensor t{name, dtype, shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    t.bytes.resize(static_cast<size_t>(n) * io::DTypeSize(dtype));
    for (int64_t i = 0; i < n; ++i) StoreValue(dtype, mean + stddev * normal(rng), &t.bytes[i * io::DTypeSize(dtype)]);
    tensors.push_back(std::move(t));
  };
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd));
  const float mlp_scale = 1.0f / std::sqrt(static_cast<float>(c.intermediate_size));
  const float block_gain = 1.0f / std::sqrt(2.0f * static_cast<float>(c.n_layer));
  add("model.embed.weight", {c.vocab_size, c.n_embd}, 1.0f);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "model.blocks." + std::to_string(l) + ".";
    for (const char* w : {"attn_query", "attn_key", "attn_value", "attn_resid"})
      add(p + "attn." + w + ".weight", {c.n_embd, c.n_embd}, in_scale);
    add(p + "attn.head_gain.head_g", {c.n_head}, 0.2f, 1.0f);
    add(p + "attn_gain.a_g", {1}, 0.1f * block_gain, block_gain);
    add(p + "mlp.mlp_gate.weight", {c.intermediate_size, c.n_embd}, in_scale);
    add(p + "mlp.mlp_linear.weight", {c.intermediate_size, c.n_embd}, in_scale);
    add(p + "mlp.mlp_resid.weight", {c.n_embd, c.intermediate_size}, mlp_scale);
    add(p + "mlp_gain.a_g", {1}, 0.1f * block_gain, block_gain);
    add(p + "embed_skip.a_g", {1}, 0.05f, 0.1f);
  }
  add("lm_head", {c.vocab_size, c.n_embd}, in_scale);
  add("lm_head_gain.w_g", {1}, 0.0f, 1.0f);
  io::WriteSafetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}, {"producer", "talkie synth"}});

  nlohmann::json config = {{"architectures", {"TalkieForCausalLM"}},
                           {"model_type", "talkie"},
                           {"vocab_size", c.vocab_size},
                           {"hidden_size", c.n_embd},
                           {"num_hidden_layers", c.n_layer},
                           {"num_attention_heads", c.n_head},
                           {"head_dim", c.head_dim},
                           {"intermediate_size", c.intermediate_size},
                           {"max_position_embeddings", c.max_position_embeddings},
                           {"rope_theta", c.rope_theta},
                           {"torch_dtype", dtype == io::DType::kBF16 ? "bfloat16" : dtype == io::DType::kF16 ? "float16" : "float32"}};
  std::ofstream(dir + "/config.json") << config.dump(2) << "\n";
}

}  // namespace talkie::model
