// config.json parsing for both key families (spec §3).
#include "model/config.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_limits.h"
#include "io/atomic_file.h"

namespace talkie::model {
namespace {

using nlohmann::json;

// Reads an integer field; returns false when absent. Wrong types are errors.
bool ReadInt(const json& j, const char* key, const std::string& origin, int64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})
    throw Error(origin + ": field '" + key + "' is out of range, got " + it->dump());
  if (it->is_number_integer() || it->is_number_unsigned()) {
    *out = it->get<int64_t>();
    return true;
  }
  if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()) {
    // A whole float beyond int64 is an error, not an undefined conversion.
    const double v = it->get<double>();
    if (!(v >= -9.2233720368547758e18 && v < 9.2233720368547758e18))
      throw Error(origin + ": field '" + key + "' is out of range, got " + it->dump());
    *out = static_cast<int64_t>(v);
    return true;
  }
  throw Error(origin + ": field '" + key + "' must be an integer, got " + it->dump());
}

bool ReadDouble(const json& j, const char* key, const std::string& origin, double* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_number())
    throw Error(origin + ": field '" + key + "' must be a number, got " + it->dump());
  *out = it->get<double>();
  return true;
}

// The first of several synonymous keys that is present.
bool ReadIntAny(const json& j, std::initializer_list<const char*> keys, const std::string& origin,
                int64_t* out) {
  for (const char* key : keys)
    if (ReadInt(j, key, origin, out)) return true;
  return false;
}

}  // namespace

int64_t TalkieMlpWidth(int64_t n_embd) {
  const double units = 8.0 / 3.0 * static_cast<double>(n_embd) / 128.0;
  return static_cast<int64_t>(std::nearbyint(units)) * 128;  // ties to even, like Python
}

void ValidateConfig(const ModelConfig& c, const std::string& origin) {
  auto positive = [&](int64_t v, const char* name) {
    Check(v > 0, origin + ": '" + name + "' must be positive, got " + std::to_string(v));
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.n_embd, "hidden_size/n_embd");
  positive(c.n_layer, "num_hidden_layers/n_layer");
  positive(c.n_head, "num_attention_heads/n_head");
  positive(c.head_dim, "head_dim");
  positive(c.intermediate_size, "intermediate_size");
  positive(c.max_position_embeddings, "max_position_embeddings");
  Check(c.head_dim % 2 == 0,
        origin + ": 'head_dim' must be even for RoPE, got " + std::to_string(c.head_dim));
  Check(c.n_head * c.head_dim == c.n_embd,
        origin + ": num_attention_heads * head_dim = " + std::to_string(c.n_head * c.head_dim) +
            " does not equal hidden_size " + std::to_string(c.n_embd));
  Check(c.rope_theta > 1.0 && std::isfinite(c.rope_theta),
        origin + ": 'rope_theta' must be a finite number > 1");
  const int64_t kLimit = int64_t{1} << 24;  // far beyond any Talkie; guards size arithmetic
  Check(c.vocab_size < kLimit && c.n_embd < kLimit && c.n_layer < 4096 &&
            c.intermediate_size < kLimit && c.max_position_embeddings <= (int64_t{1} << 20),
        origin + ": sizes are implausibly large");
}

ModelConfig ParseConfigJson(const std::string& text, const std::string& origin) {
  CheckJsonDepth(text, origin);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(origin + ": malformed JSON: " + e.what());
  }
  Check(j.is_object(), origin + ": config must be a JSON object");
  ModelConfig c;
  const bool transformers = j.contains("hidden_size") || j.contains("num_hidden_layers");
  c.key_family = transformers ? "transformers" : "talkie-native";
  Check(ReadInt(j, "vocab_size", origin, &c.vocab_size), origin + ": missing field 'vocab_size'");
  Check(ReadIntAny(j, {"hidden_size", "n_embd"}, origin, &c.n_embd),
        origin + ": missing field 'hidden_size' (or 'n_embd')");
  Check(ReadIntAny(j, {"num_hidden_layers", "n_layer"}, origin, &c.n_layer),
        origin + ": missing field 'num_hidden_layers' (or 'n_layer')");
  Check(ReadIntAny(j, {"num_attention_heads", "n_head"}, origin, &c.n_head),
        origin + ": missing field 'num_attention_heads' (or 'n_head')");
  if (!ReadInt(j, "head_dim", origin, &c.head_dim)) {
    Check(c.n_head > 0 && c.n_embd % c.n_head == 0,
          origin + ": missing field 'head_dim' and hidden size is not divisible by the head count");
    c.head_dim = c.n_embd / c.n_head;
  }
  if (!ReadIntAny(j, {"intermediate_size", "mlp_hidden", "n_mlp"}, origin, &c.intermediate_size))
    c.intermediate_size = TalkieMlpWidth(c.n_embd);
  ReadIntAny(j, {"max_position_embeddings", "max_seq_len", "block_size"}, origin,
             &c.max_position_embeddings);
  ReadDouble(j, "rope_theta", origin, &c.rope_theta) ||
      ReadDouble(j, "rope_base", origin, &c.rope_theta);
  ReadInt(j, "eos_token_id", origin, &c.eos_token_id);
  ValidateConfig(c, origin);
  return c;
}

ModelConfig LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Check(static_cast<bool>(in), path + ": cannot open config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfigJson(buffer.str(), path);
}

void WriteConfigFile(const std::string& path, const ModelConfig& c,
                     const std::string& torch_dtype) {
  json config = {{"architectures", {"TalkieForCausalLM"}},
                 {"model_type", "talkie"},
                 {"vocab_size", c.vocab_size},
                 {"hidden_size", c.n_embd},
                 {"num_hidden_layers", c.n_layer},
                 {"num_attention_heads", c.n_head},
                 {"head_dim", c.head_dim},
                 {"intermediate_size", c.intermediate_size},
                 {"max_position_embeddings", c.max_position_embeddings},
                 {"rope_theta", c.rope_theta},
                 {"torch_dtype", torch_dtype}};
  if (c.eos_token_id >= 0) config["eos_token_id"] = c.eos_token_id;
  io::WriteFileAtomically(path, config.dump(2) + "\n");
}

}  // namespace talkie::model
