// ExportGguf (see gguf_export.h).
#include "model/gguf_export.h"

#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/number_formats.h"
#include "io/gguf.h"
#include "ops/parallel.h"
#include "ops/quantize.h"

namespace talkie::model {
namespace {

// ggml_type ids and llama_ftype values (general.file_type).
constexpr uint32_t kGgmlF32 = 0, kGgmlQ4_0 = 2, kGgmlQ8_0 = 8, kGgmlBF16 = 30;

uint32_t GgmlTypeOf(GgufExportType t) {
  switch (t) {
    case GgufExportType::kF32:
      return kGgmlF32;
    case GgufExportType::kBF16:
      return kGgmlBF16;
    case GgufExportType::kQ8_0:
      return kGgmlQ8_0;
    case GgufExportType::kQ4_0:
      return kGgmlQ4_0;
  }
  return kGgmlF32;
}

uint32_t FileTypeOf(GgufExportType t) {
  switch (t) {
    case GgufExportType::kF32:
      return 0;
    case GgufExportType::kBF16:
      return 32;
    case GgufExportType::kQ8_0:
      return 7;
    case GgufExportType::kQ4_0:
      return 2;
  }
  return 0;
}

// Bytes of one row of `cols` values in ggml type `type`.
uint64_t RowBytes(uint32_t type, int64_t cols) {
  const auto n = static_cast<uint64_t>(cols);
  switch (type) {
    case kGgmlBF16:
      return n * 2;
    case kGgmlQ8_0:
      return n / 32 * 34;
    case kGgmlQ4_0:
      return n / 32 * 18;
    default:
      return n * 4;
  }
}

// One tensor of the file: a matrix (rows written in `type`, q / k rows of
// the second half of each head negated when head_dim > 0) or a vector.
struct Item {
  io::GgufTensorSpec spec;
  const ops::WeightMatrix* matrix = nullptr;
  int64_t head_dim = 0;
  std::vector<float> vector;
};

// Per-thread buffers of WriteRow.
struct RowScratch {
  std::vector<float> row;
  std::vector<uint8_t> codes;
  std::vector<uint16_t> scales;
};

// Row r of m in ggml type `type` into out (RowBytes bytes), negated if asked.
void WriteRow(const ops::WeightMatrix& m, int64_t r, uint32_t type, bool negate,
              RowScratch& scratch, std::byte* out) {
  std::vector<float>& row = scratch.row;
  ops::WeightMatrix plain = m;
  plain.has_scale = false;  // the lm_head gain is talkie.logit_scale
  ops::WeightRowToFloat(plain, r, row.data());
  const int64_t n = m.cols;
  if (type == kGgmlF32 || type == kGgmlBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = negate ? -row[i] : row[i];
      if (type == kGgmlF32) {
        std::memcpy(out + 4 * i, &v, 4);
      } else {
        const uint16_t b = FloatToBf16(v);
        std::memcpy(out + 2 * i, &b, 2);
      }
    }
    return;
  }
  // Talkie's quantizers, then ggml's block order: f16 scale, then the codes.
  const bool q8 = type == kGgmlQ8_0;
  std::vector<uint8_t>& codes = scratch.codes;
  std::vector<uint16_t>& scales = scratch.scales;
  codes.resize(static_cast<size_t>(q8 ? n : n / 2));
  scales.resize(static_cast<size_t>(n / 32));
  if (q8)
    ops::QuantizeRowQ8(row.data(), n, reinterpret_cast<int8_t*>(codes.data()), scales.data());
  else
    ops::QuantizeRowQ4(row.data(), n, codes.data(), scales.data());
  const size_t code_bytes = q8 ? 32 : 16;
  for (size_t g = 0; g < scales.size(); ++g) {
    const uint16_t d = negate ? static_cast<uint16_t>(scales[g] ^ 0x8000u) : scales[g];
    std::byte* block = out + g * (2 + code_bytes);
    std::memcpy(block, &d, 2);
    std::memcpy(block + 2, codes.data() + g * code_bytes, code_bytes);
  }
}

}  // namespace

GgufExportType ParseGgufExportType(const std::string& name) {
  if (name == "f32") return GgufExportType::kF32;
  if (name == "bf16") return GgufExportType::kBF16;
  if (name == "q8" || name == "q8_0") return GgufExportType::kQ8_0;
  if (name == "q4" || name == "q4_0") return GgufExportType::kQ4_0;
  throw Error("GGUF output type must be f32, bf16, q8 (Q8_0) or q4 (Q4_0), got '" + name + "'");
}

void ExportGguf(const Model& model, GgufExportType type, const std::string& path,
                const std::vector<io::GgufEntry>& tokenizer_metadata,
                const io::WriteProgress& progress) {
  const ModelConfig& c = model.config();
  const TalkieWeights& w = model.weights();
  const uint32_t matrix_type = GgmlTypeOf(type);
  std::vector<Item> items;
  auto add_matrix = [&](const std::string& name, const ops::WeightMatrix& m, int64_t head_dim = 0) {
    const bool quantized = matrix_type == kGgmlQ8_0 || matrix_type == kGgmlQ4_0;
    const uint32_t t = quantized && m.cols % 32 != 0 ? kGgmlF32 : matrix_type;
    Item item;
    item.spec = {name, {m.cols, m.rows}, t, RowBytes(t, m.cols) * static_cast<uint64_t>(m.rows)};
    item.matrix = &m;
    item.head_dim = head_dim;
    items.push_back(std::move(item));
  };
  auto add_vector = [&](const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    Item item;
    item.spec = {name, std::move(dims), kGgmlF32, v.size() * 4};
    item.vector = std::move(v);
    items.push_back(std::move(item));
  };
  add_matrix("token_embd.weight", w.embed);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const BlockWeights& b = w.blocks[static_cast<size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    add_matrix(p + "attn_q.weight", b.attn_query, c.head_dim);
    add_matrix(p + "attn_k.weight", b.attn_key, c.head_dim);
    add_matrix(p + "attn_v.weight", b.attn_value);
    add_matrix(p + "attn_output.weight", b.attn_resid);
    add_vector(p + "attn_q_norm.weight", {1, c.n_head}, b.head_gain);
    add_vector(p + "attn_output.scale", {1}, {b.attn_gain});
    add_matrix(p + "ffn_gate.weight", b.mlp_gate);
    add_matrix(p + "ffn_up.weight", b.mlp_linear);
    add_matrix(p + "ffn_down.weight", b.mlp_resid);
    add_vector(p + "ffn_down.scale", {1}, {b.mlp_gain});
    add_vector(p + "layer_output_scale.weight", {1}, {b.embed_skip});
  }
  add_matrix("output.weight", w.lm_head);

  const std::string name = std::filesystem::path(model.directory()).filename().string();
  std::vector<io::GgufEntry> metadata = {
      io::GgufString("general.architecture", "talkie"),
      io::GgufString("general.name", name.empty() ? "talkie" : name),
      io::GgufUint32("general.file_type", FileTypeOf(type)),
      io::GgufUint32("talkie.block_count", static_cast<uint32_t>(c.n_layer)),
      io::GgufUint32("talkie.context_length", static_cast<uint32_t>(c.max_position_embeddings)),
      io::GgufUint32("talkie.embedding_length", static_cast<uint32_t>(c.n_embd)),
      io::GgufUint32("talkie.feed_forward_length", static_cast<uint32_t>(c.intermediate_size)),
      io::GgufUint32("talkie.attention.head_count", static_cast<uint32_t>(c.n_head)),
      io::GgufUint32("talkie.attention.head_count_kv", static_cast<uint32_t>(c.n_head)),
      io::GgufUint32("talkie.attention.key_length", static_cast<uint32_t>(c.head_dim)),
      io::GgufUint32("talkie.attention.value_length", static_cast<uint32_t>(c.head_dim)),
      io::GgufFloat32("talkie.rope.freq_base", static_cast<float>(c.rope_theta)),
      // Talkie's rms-norm epsilon is float32's machine epsilon (spec §3).
      io::GgufFloat32("talkie.attention.layer_norm_rms_epsilon", 0x1p-23f),
      io::GgufUint32("talkie.vocab_size", static_cast<uint32_t>(c.vocab_size)),
  };
  if (tokenizer_metadata.empty()) {
    // No tokenizer in the file: llama.cpp then makes vocab_size dummy tokens
    // and runs on token ids.
    metadata.push_back(io::GgufString("tokenizer.ggml.model", "none"));
    if (c.eos_token_id >= 0)
      metadata.push_back(
          io::GgufUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(c.eos_token_id)));
  }
  metadata.insert(metadata.end(), tokenizer_metadata.begin(), tokenizer_metadata.end());
  if (matrix_type == kGgmlQ8_0 || matrix_type == kGgmlQ4_0)
    metadata.push_back(io::GgufUint32("general.quantization_version", 2));
  if (w.lm_head.has_scale)
    metadata.push_back(io::GgufFloat32("talkie.logit_scale", w.lm_head.scale));

  std::vector<io::GgufTensorSpec> specs;
  for (const Item& item : items) specs.push_back(item.spec);
  io::WriteGgufStreamed(
      path, metadata, specs,
      [&](size_t i, std::vector<std::byte>& out) {
        const Item& item = items[i];
        if (!item.matrix) {
          out.resize(item.vector.size() * 4);
          std::memcpy(out.data(), item.vector.data(), out.size());
          return;
        }
        const ops::WeightMatrix& m = *item.matrix;
        const uint64_t row_bytes = RowBytes(item.spec.type, m.cols);
        out.resize(row_bytes * static_cast<uint64_t>(m.rows));
    // Rows are independent: threads change nothing in the output.
#pragma omp parallel num_threads(ops::NumThreads())
        {
          RowScratch scratch;
          scratch.row.resize(static_cast<size_t>(m.cols));
#pragma omp for schedule(static)
          for (int64_t r = 0; r < m.rows; ++r) {
            const bool negate = item.head_dim > 0 && r % item.head_dim >= item.head_dim / 2;
            WriteRow(m, r, item.spec.type, negate, scratch, out.data() + r * row_bytes);
          }
        }
      },
      progress);
}

}  // namespace talkie::model
