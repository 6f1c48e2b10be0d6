// GGUF -> original-release tensors and config (see gguf_checkpoint.h).
#include "model/gguf_checkpoint.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include "common/error.h"
#include "io/gguf.h"
#include "model/load_progress.h"
#include "ops/ggml_blocks.h"

namespace talkie::model {
namespace {

constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kBF16 = 30;

// Owned bytes for the tensors that cannot stay in the mapping.
struct Owned {
  std::vector<std::vector<std::byte>> buffers;
  std::byte* New(size_t n) { return buffers.emplace_back(n).data(); }
};

class Converter {
 public:
  Converter(std::shared_ptr<const io::GgufFile> gguf, GgufCheckpoint* out)
      : g_(*gguf), out_(out), owned_(std::make_shared<Owned>()) {
    out_->store.KeepAlive(gguf);
    out_->store.KeepAlive(owned_);
  }

  const io::GgufTensor& Get(const std::string& name) const {
    const io::GgufTensor* t = g_.FindTensor(name);
    Check(t != nullptr, g_.origin() + ": missing tensor '" + name + "'");
    return *t;
  }

  // The bytes Matrix() copies for this tensor (quantized blocks re-laid, or
  // q / k sign-flipped): the reading time of a GGUF load. 0 for a tensor
  // used in place (and for one Matrix() will refuse).
  uint64_t CopiedBytes(const std::string& gguf_name, int64_t head_dim = 0) const {
    const io::GgufTensor* t = g_.FindTensor(gguf_name);
    if (t == nullptr) return 0;
    const uint32_t type = t->type->id;
    if (type == kQ8_0 || type == kQ4_0) return t->nbytes;
    if (head_dim > 0 && (type == kF32 || type == kF16 || type == kBF16)) return t->nbytes;
    return 0;
  }

  // A [rows, cols] matrix (GGUF dims {cols, rows}); `flip_half_heads` undoes
  // the converter's negation of the second half of every head's rows.
  void Matrix(const std::string& gguf_name, const std::string& name, int64_t head_dim = 0) {
    const io::GgufTensor& t = Get(gguf_name);
    Check(t.dims.size() == 2, g_.origin() + ": tensor '" + gguf_name + "' is not a matrix");
    const int64_t cols = t.dims[0], rows = t.dims[1];
    auto flipped = [&](int64_t r) { return head_dim > 0 && r % head_dim >= head_dim / 2; };
    const uint32_t type = t.type->id;
    ++type_counts_[t.type->name];
    if (type == kF32 || type == kF16 || type == kBF16) {
      const io::DType dtype = type == kF32   ? io::DType::kF32
                              : type == kF16 ? io::DType::kF16
                                             : io::DType::kBF16;
      const std::byte* data = t.data;
      if (head_dim > 0) {  // sign-flipped copy: negation is exact in every float format
        std::byte* copy = owned_->New(t.nbytes);
        std::memcpy(copy, t.data, t.nbytes);
        const size_t elem = io::DTypeSize(dtype), row_bytes = static_cast<size_t>(cols) * elem;
        for (int64_t r = 0; r < rows; ++r) {
          if (!flipped(r)) continue;
          for (int64_t c = 0; c < cols; ++c)
            copy[r * row_bytes + c * elem + elem - 1] ^= std::byte{0x80};
        }
        data = copy;
      }
      Add(name, dtype, {rows, cols}, data, t.nbytes);
      return;
    }
    ops::WeightType block_type;
    if (ops::GgmlBlockTypeFromName(t.type->name, &block_type)) {
      // Used in place: the file's blocks under <name>.<TYPE>. The q / k flip
      // becomes a per-row negation flag: negating a widened value is exact,
      // and the matrix is not copied (ops/weights.h).
      Add(name + "." + t.type->name, io::DType::kU8, {rows, static_cast<int64_t>(t.nbytes) / rows},
          t.data, t.nbytes);
      if (head_dim > 0) {
        auto* flags = reinterpret_cast<uint8_t*>(owned_->New(static_cast<size_t>(rows)));
        for (int64_t r = 0; r < rows; ++r) flags[r] = flipped(r) ? 1 : 0;
        Add(name + ".negated_rows", io::DType::kU8, {rows},
            reinterpret_cast<const std::byte*>(flags), static_cast<size_t>(rows));
      }
      return;
    }
    Check(type == kQ8_0 || type == kQ4_0,
          g_.origin() + ": tensor '" + gguf_name + "' is " + t.type->name +
              ", which talkie.cpp cannot compute on yet (supported: F32, F16, BF16, Q8_0, Q4_0, "
              "Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K)");
    // Blocks of 32 along a row: f16 scale, then 32 int8 codes (Q8_0) or 16
    // bytes of nibbles (Q4_0, the same nibble order as talkie's q4).
    const bool q8 = type == kQ8_0;
    const int64_t groups = cols / 32, code_bytes = q8 ? 32 : 16, block = 2 + code_bytes;
    std::byte* codes = owned_->New(static_cast<size_t>(rows * groups * code_bytes));
    auto* scales = reinterpret_cast<uint16_t*>(owned_->New(static_cast<size_t>(rows * groups * 2)));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t gi = 0; gi < groups; ++gi) {
        const std::byte* b = t.data + (r * groups + gi) * block;
        uint16_t d;
        std::memcpy(&d, b, 2);
        if (flipped(r)) d ^= 0x8000;  // value = code * d: negate through the scale
        scales[r * groups + gi] = d;
        std::memcpy(codes + (r * groups + gi) * code_bytes, b + 2, static_cast<size_t>(code_bytes));
      }
    }
    const std::string suffix = q8 ? ".q8" : ".q4";
    Add(name + suffix, q8 ? io::DType::kI8 : io::DType::kU8, {rows, q8 ? cols : cols / 2}, codes,
        static_cast<size_t>(rows * groups * code_bytes));
    Add(name + suffix + "_scales", io::DType::kF16, {rows, groups},
        reinterpret_cast<const std::byte*>(scales), static_cast<size_t>(rows * groups * 2));
  }

  // A small float tensor of n values, any shape holding exactly n.
  void Vector(const std::string& gguf_name, const std::string& name, int64_t n) {
    const io::GgufTensor& t = Get(gguf_name);
    Check(t.NumElements() == n, g_.origin() + ": tensor '" + gguf_name + "' has " +
                                    std::to_string(t.NumElements()) + " values, expected " +
                                    std::to_string(n));
    const uint32_t type = t.type->id;
    Check(type == kF32 || type == kF16 || type == kBF16, g_.origin() + ": tensor '" + gguf_name +
                                                             "' is " + t.type->name +
                                                             ", expected F32, F16 or BF16");
    ++type_counts_[t.type->name];
    Add(name,
        type == kF32   ? io::DType::kF32
        : type == kF16 ? io::DType::kF16
                       : io::DType::kBF16,
        n == 1 ? std::vector<int64_t>{1} : std::vector<int64_t>{n}, t.data, t.nbytes);
  }

  void OwnedScalar(const std::string& name, float value) {
    std::byte* b = owned_->New(4);
    std::memcpy(b, &value, 4);
    Add(name, io::DType::kF32, {1}, b, 4);
  }

  std::string TypeSummary() const {
    std::string s;
    for (const auto& [name, n] : type_counts_)
      s += (s.empty() ? "" : ", ") + name + " x " + std::to_string(n);
    return s;
  }

 private:
  void Add(const std::string& name, io::DType dtype, std::vector<int64_t> shape,
           const std::byte* data, size_t nbytes) {
    io::TensorView v;
    v.name = name;
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.data = data;
    v.nbytes = nbytes;
    out_->store.Add(std::move(v));
  }

  const io::GgufFile& g_;
  GgufCheckpoint* out_;
  std::shared_ptr<Owned> owned_;
  std::map<std::string, int> type_counts_;
};

ModelConfig ConfigFromMetadata(const io::GgufFile& g) {
  const std::string& arch = g.GetString("general.architecture");
  Check(arch == "talkie",
        g.origin() + ": general.architecture is '" + arch + "', not 'talkie': not a Talkie model");
  ModelConfig c;
  c.key_family = "gguf";
  c.n_layer = static_cast<int64_t>(g.GetUint("talkie.block_count"));
  c.n_embd = static_cast<int64_t>(g.GetUint("talkie.embedding_length"));
  c.intermediate_size = static_cast<int64_t>(g.GetUint("talkie.feed_forward_length"));
  c.n_head = static_cast<int64_t>(g.GetUint("talkie.attention.head_count"));
  if (g.Find("talkie.attention.head_count_kv"))
    Check(g.GetUint("talkie.attention.head_count_kv") == static_cast<uint64_t>(c.n_head),
          g.origin() +
              ": talkie.attention.head_count_kv differs from head_count (Talkie has no "
              "grouped-query attention)");
  c.head_dim = g.Find("talkie.attention.key_length")
                   ? static_cast<int64_t>(g.GetUint("talkie.attention.key_length"))
                   : (c.n_head > 0 ? c.n_embd / c.n_head : 0);
  c.max_position_embeddings = static_cast<int64_t>(g.GetUint("talkie.context_length"));
  c.rope_theta = g.GetFloat("talkie.rope.freq_base");
  if (g.Find("talkie.attention.layer_norm_rms_epsilon")) {
    const double eps = g.GetFloat("talkie.attention.layer_norm_rms_epsilon");
    Check(std::fabs(eps - 1.1920928955078125e-07) < 1e-12,
          g.origin() + ": talkie.attention.layer_norm_rms_epsilon is " + std::to_string(eps) +
              "; Talkie's rms-norm uses float32 epsilon (2^-23)");
  }
  if (g.Find("tokenizer.ggml.eos_token_id"))
    c.eos_token_id = static_cast<int64_t>(g.GetUint("tokenizer.ggml.eos_token_id"));
  const io::GgufTensor* embd = g.FindTensor("token_embd.weight");
  Check(embd != nullptr && embd->dims.size() == 2,
        g.origin() + ": missing tensor 'token_embd.weight'");
  c.vocab_size = embd->dims[1];
  ValidateConfig(c, g.origin());
  return c;
}

}  // namespace

GgufCheckpoint LoadGgufCheckpoint(const std::string& path) {
  auto gguf = std::make_shared<const io::GgufFile>(io::LoadGguf(path));
  const io::GgufFile& g = *gguf;
  GgufCheckpoint out;
  out.config = ConfigFromMetadata(g);
  out.has_tokenizer = g.Find("tokenizer.ggml.tokens") != nullptr;
  const ModelConfig& c = out.config;
  // Only llama.cpp's upstream naming is known to this reader so far; files
  // from earlier conversions (embd_skip_scale / attn_q_gain names, gains
  // folded into the weights, q/k not flipped) are refused by name.
  for (const char* legacy :
       {"blk.0.embd_skip_scale.weight", "blk.0.attn_q_gain.weight", "blk.0.embed_skip.weight"})
    Check(g.FindTensor(legacy) == nullptr,
          path + ": an early community conversion (tensor '" + legacy +
              "'); only llama.cpp's upstream talkie conversion is supported so far");
  out.variant = "llama.cpp upstream (q/k RoPE-flipped)";

  Converter conv(gguf, &out);
  // Every matrix: GGUF name, release name, head_dim for the q / k flip.
  struct MatrixName {
    std::string gguf, name;
    int64_t head_dim = 0;
  };
  std::vector<MatrixName> matrices = {{"token_embd.weight", "embed.weight"},
                                      {"output.weight", "lm_head"}};
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const std::string p = "blocks." + std::to_string(l) + ".";
    matrices.insert(matrices.end(),
                    {{b + "attn_q.weight", p + "attn.attn_query.weight", c.head_dim},
                     {b + "attn_k.weight", p + "attn.attn_key.weight", c.head_dim},
                     {b + "attn_v.weight", p + "attn.attn_value.weight"},
                     {b + "attn_output.weight", p + "attn.attn_resid.weight"},
                     {b + "ffn_gate.weight", p + "mlp.mlp_gate.weight"},
                     {b + "ffn_up.weight", p + "mlp.mlp_linear.weight"},
                     {b + "ffn_down.weight", p + "mlp.mlp_resid.weight"}});
  }
  // Progress over the bytes that are copied (nothing when all is in place).
  uint64_t total = 0;
  for (const MatrixName& m : matrices) total += conv.CopiedBytes(m.gguf, m.head_dim);
  const std::string stage = "re-laying " + std::filesystem::path(path).filename().string();
  if (total > 0) ReportLoadProgress(stage, 0, total);
  uint64_t done = 0;
  for (const MatrixName& m : matrices) {
    conv.Matrix(m.gguf, m.name, m.head_dim);
    const uint64_t copied = conv.CopiedBytes(m.gguf, m.head_dim);
    done += copied;
    if (copied > 0) ReportLoadProgress(stage, done, total);
  }
  if (g.Find("talkie.logit_scale"))
    conv.OwnedScalar("lm_head_gain.w_g", static_cast<float>(g.GetFloat("talkie.logit_scale")));
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const std::string p = "blocks." + std::to_string(l) + ".";
    conv.Vector(b + "attn_q_norm.weight", p + "attn.head_gain.head_g", c.n_head);
    // The attention / MLP gains are optional (1 when a conversion folded them).
    if (g.FindTensor(b + "attn_output.scale"))
      conv.Vector(b + "attn_output.scale", p + "attn_gain.a_g", 1);
    else
      conv.OwnedScalar(p + "attn_gain.a_g", 1.0f);
    if (g.FindTensor(b + "ffn_down.scale"))
      conv.Vector(b + "ffn_down.scale", p + "mlp_gain.a_g", 1);
    else
      conv.OwnedScalar(p + "mlp_gain.a_g", 1.0f);
    conv.Vector(b + "layer_output_scale.weight", p + "embed_skip.a_g", 1);
  }
  out.file_types = conv.TypeSummary();
  out.store.AddFile(path);
  return out;
}

}  // namespace talkie::model
