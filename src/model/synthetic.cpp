// WriteSyntheticModel (see synthetic.h).
#include "model/synthetic.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "io/tensor_store.h"

namespace talkie::model {
namespace {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  float stddev = 0.0f, mean = 0.0f;
  int64_t Count() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

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

std::vector<TensorSpec> Specs(const ModelConfig& c) {
  const float in_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd));
  const float mlp_scale = 1.0f / std::sqrt(static_cast<float>(c.intermediate_size));
  const float block_gain = 1.0f / std::sqrt(2.0f * static_cast<float>(c.n_layer));
  std::vector<TensorSpec> specs = {{"model.embed.weight", {c.vocab_size, c.n_embd}, 1.0f}};
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "model.blocks." + std::to_string(l) + ".";
    for (const char* w : {"attn_query", "attn_key", "attn_value", "attn_resid"})
      specs.push_back({p + "attn." + w + ".weight", {c.n_embd, c.n_embd}, in_scale});
    specs.push_back({p + "attn.head_gain.head_g", {c.n_head}, 0.2f, 1.0f});
    specs.push_back({p + "attn_gain.a_g", {1}, 0.1f * block_gain, block_gain});
    specs.push_back({p + "mlp.mlp_gate.weight", {c.intermediate_size, c.n_embd}, in_scale});
    specs.push_back({p + "mlp.mlp_linear.weight", {c.intermediate_size, c.n_embd}, in_scale});
    specs.push_back({p + "mlp.mlp_resid.weight", {c.n_embd, c.intermediate_size}, mlp_scale});
    specs.push_back({p + "mlp_gain.a_g", {1}, 0.1f * block_gain, block_gain});
    specs.push_back({p + "embed_skip.a_g", {1}, 0.05f, 0.1f});
  }
  specs.push_back({"lm_head", {c.vocab_size, c.n_embd}, in_scale});
  specs.push_back({"lm_head_gain.w_g", {1}, 0.0f, 1.0f});
  return specs;
}

}  // namespace

ModelConfig SyntheticShape(const std::string& name) {
  ModelConfig c;
  c.max_position_embeddings = 2048;
  c.rope_theta = 1e6;
  if (name == "talkie-13b") {
    c.vocab_size = 65540, c.n_embd = 5120, c.n_layer = 40, c.n_head = 40, c.head_dim = 128;
  } else if (name == "talkie-1b") {
    c.vocab_size = 65540, c.n_embd = 2048, c.n_layer = 16, c.n_head = 16, c.head_dim = 128;
  } else if (name == "talkie-tiny") {
    c.vocab_size = 4101, c.n_embd = 256, c.n_layer = 6, c.n_head = 4, c.head_dim = 64;
  } else {
    throw Error("unknown shape '" + name + "' (known: talkie-13b, talkie-1b, talkie-tiny)");
  }
  c.intermediate_size = TalkieMlpWidth(c.n_embd);
  if (name == "talkie-1b") c.intermediate_size = 5504;
  return c;
}

void WriteSyntheticModel(const std::string& dir, const ModelConfig& c, io::DType dtype,
                         uint64_t seed, const io::WriteProgress& progress) {
  ValidateConfig(c, "synthetic config");
  Check(dtype == io::DType::kF32 || dtype == io::DType::kF16 || dtype == io::DType::kBF16,
        "synthetic model: dtype must be F32, F16 or BF16");
  std::filesystem::create_directories(dir);
  const std::vector<TensorSpec> specs = Specs(c);
  const size_t esize = io::DTypeSize(dtype);

  std::vector<io::TensorSpec> tensor_specs;
  for (const TensorSpec& s : specs) tensor_specs.push_back({s.name, dtype, s.shape});
  // Uniform noise with the wanted mean and standard deviation (fast enough for
  // billions of values; the distribution's shape does not matter here).
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  auto uniform = [&state] {  // xorshift64*, in [-sqrt(3), sqrt(3)): unit variance
    state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
    const uint64_t r = state * 0x2545f4914f6cdd1dull;
    return (static_cast<float>(r >> 40) * 0x1.0p-24f * 2.0f - 1.0f) * 1.7320508f;
  };
  io::WriteSafetensorsStreamed(
      dir + "/model.safetensors", tensor_specs, {{"format", "pt"}, {"producer", "talkie synth"}},
      [&](size_t i, std::vector<std::byte>& out) {
        const TensorSpec& s = specs[i];
        out.resize(static_cast<size_t>(s.Count()) * esize);
        for (int64_t e = 0; e < s.Count(); ++e)
          StoreValue(dtype, s.mean + s.stddev * uniform(), &out[e * esize]);
        return std::span<const std::byte>(out);
      },
      progress);

  WriteConfigFile(dir + "/config.json", c,
                  dtype == io::DType::kBF16  ? "bfloat16"
                  : dtype == io::DType::kF16 ? "float16"
                                             : "float32");
}

}  // namespace talkie::model
