// QuantizeModel (see quantize.h).
#include "model/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "io/atomic_file.h"
#include "io/tensor_store.h"
#include "model/forward.h"
#include "ops/parallel.h"
#include "ops/quantize.h"

namespace talkie::model {
namespace {

namespace fs = std::filesystem;

// A tensor to write: a matrix (quantized or F32) or a vector of floats.
struct Item {
  io::TensorSpec spec;
  const ops::WeightMatrix* matrix = nullptr;
  enum class Part { kValues, kScales, kFloatMatrix, kVector } part = Part::kVector;
  std::vector<float> vector;
};

}  // namespace

void QuantizeModel(const Model& model, ops::WeightType type, const std::string& out_dir,
                   const io::WriteProgress& progress) {
  Check(type == ops::WeightType::kQ8 || type == ops::WeightType::kQ4,
        "quantize: type must be q8 or q4");
  const bool q8 = type == ops::WeightType::kQ8;
  const std::string suffix = q8 ? ".q8" : ".q4";
  const ModelConfig& c = model.config();
  const TalkieWeights& w = model.weights();
  std::vector<Item> items;
  auto add_matrix = [&](const std::string& name, const ops::WeightMatrix& m) {
    if (m.cols % ops::kQuantGroup == 0) {
      items.push_back({{name + suffix,
                        q8 ? io::DType::kI8 : io::DType::kU8,
                        {m.rows, q8 ? m.cols : m.cols / 2}},
                       &m,
                       Item::Part::kValues,
                       {}});
      items.push_back(
          {{name + suffix + "_scales", io::DType::kF16, {m.rows, m.cols / ops::kQuantGroup}},
           &m,
           Item::Part::kScales,
           {}});
    } else {
      items.push_back(
          {{name, io::DType::kF32, {m.rows, m.cols}}, &m, Item::Part::kFloatMatrix, {}});
    }
  };
  auto add_vector = [&](const std::string& name, std::vector<float> v) {
    items.push_back({{name, io::DType::kF32, {static_cast<int64_t>(v.size())}},
                     nullptr,
                     Item::Part::kVector,
                     v});
  };
  add_matrix("model.embed.weight", w.embed);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const BlockWeights& b = w.blocks[l];
    const std::string p = "model.blocks." + std::to_string(l) + ".";
    add_matrix(p + "attn.attn_query.weight", b.attn_query);
    add_matrix(p + "attn.attn_key.weight", b.attn_key);
    add_matrix(p + "attn.attn_value.weight", b.attn_value);
    add_matrix(p + "attn.attn_resid.weight", b.attn_resid);
    add_vector(p + "attn.head_gain.head_g", b.head_gain);
    add_vector(p + "attn_gain.a_g", {b.attn_gain});
    add_matrix(p + "mlp.mlp_gate.weight", b.mlp_gate);
    add_matrix(p + "mlp.mlp_linear.weight", b.mlp_linear);
    add_matrix(p + "mlp.mlp_resid.weight", b.mlp_resid);
    add_vector(p + "mlp_gain.a_g", {b.mlp_gain});
    add_vector(p + "embed_skip.a_g", {b.embed_skip});
  }
  add_matrix("lm_head", w.lm_head);
  if (w.lm_head.has_scale) add_vector("lm_head_gain.w_g", {w.lm_head.scale});

  fs::create_directories(out_dir);
  std::vector<io::TensorSpec> specs;
  for (const Item& item : items) specs.push_back(item.spec);
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"producer", "talkie quantize"}, {"talkie_quantization", q8 ? "q8" : "q4"}};
  // A matrix's scales come out of the same pass as its values and are kept
  // for the item that follows.
  std::vector<std::byte> pending_scales;
  const ops::WeightMatrix* scales_of = nullptr;
  io::WriteSafetensorsStreamed(
      out_dir + "/model.safetensors", specs, metadata,
      [&](size_t i, std::vector<std::byte>& out) -> std::span<const std::byte> {
        const Item& item = items[i];
        if (item.part == Item::Part::kVector) return std::as_bytes(std::span(item.vector));
        ops::WeightMatrix m = *item.matrix;
        m.has_scale = false;  // the lm_head gain stays a separate tensor
        const int64_t groups = m.cols / ops::kQuantGroup;
        if (item.part == Item::Part::kScales && scales_of == item.matrix) {
          out.swap(pending_scales);  // computed with the values just before
          scales_of = nullptr;
          return out;
        }
        const size_t row_bytes = item.part == Item::Part::kFloatMatrix ? m.cols * 4
                                 : item.part == Item::Part::kScales    ? groups * 2
                                 : q8                                  ? m.cols
                                                                       : m.cols / 2;
        const size_t scale_bytes = static_cast<size_t>(groups) * 2;
        out.resize(row_bytes * static_cast<size_t>(m.rows));
        if (item.part == Item::Part::kValues)
          pending_scales.resize(scale_bytes * static_cast<size_t>(m.rows));
      // Rows are independent: threads change nothing in the output.
#pragma omp parallel num_threads(ops::NumThreads())
        {
          std::vector<float> row(static_cast<size_t>(m.cols));
          std::vector<std::byte> values(static_cast<size_t>(m.cols)), scales(scale_bytes);
#pragma omp for schedule(static)
          for (int64_t r = 0; r < m.rows; ++r) {
            ops::WeightRowToFloat(m, r, row.data());
            std::byte* dst = &out[r * row_bytes];
            if (item.part == Item::Part::kFloatMatrix) {
              std::memcpy(dst, row.data(), row_bytes);
              continue;
            }
            auto* d = reinterpret_cast<uint16_t*>(scales.data());
            if (q8) {
              ops::QuantizeRowQ8(row.data(), m.cols, reinterpret_cast<int8_t*>(values.data()), d);
            } else {
              ops::QuantizeRowQ4(row.data(), m.cols, reinterpret_cast<uint8_t*>(values.data()), d);
            }
            std::memcpy(dst, item.part == Item::Part::kScales ? scales.data() : values.data(),
                        row_bytes);
            if (item.part == Item::Part::kValues)
              std::memcpy(&pending_scales[r * scale_bytes], scales.data(), scale_bytes);
          }
        }
        if (item.part == Item::Part::kValues) scales_of = item.matrix;
        return out;
      },
      progress);
  WriteConfigFile(out_dir + "/config.json", c, q8 ? "int8" : "int4");
  for (const char* name : {"vocab.txt", "tokenizer.json"}) {
    const fs::path src = fs::path(model.directory()) / name;
    std::error_code ec;
    if (fs::exists(src, ec))
      io::CopyFileAtomically(src.string(), (fs::path(out_dir) / name).string());
  }
}

}  // namespace talkie::model
