// Model::Load: finds the checkpoint, reads it with the right io reader, maps
// tensor names of every published layout (spec §3) onto the Talkie weights,
// and checks every shape against the config (or infers the config).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "common/error.h"
#include "io/gguf.h"
#include "model/gguf_checkpoint.h"
#include "model/model.h"
#include "ops/ggml_blocks.h"

namespace talkie::model {
namespace {

namespace fs = std::filesystem;
using io::TensorView;

struct Checkpoint {
  std::string file;    // the checkpoint file (or index) to read
  std::string format;  // LoadInfo::checkpoint_format
  std::string dir;     // where config.json / tokenizer files would be
};

bool StartsWithZipMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

bool StartsWithGgufMagic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Checkpoint ClassifyFile(const std::string& file) {
  Checkpoint c{file, "", fs::path(file).parent_path().string()};
  if (c.dir.empty()) c.dir = ".";
  if (EndsWith(file, ".json")) {
    c.format = "safetensors-sharded";
  } else if (StartsWithZipMagic(file)) {
    c.format = "pytorch-zip";
  } else if (StartsWithGgufMagic(file)) {
    c.format = "gguf";
  } else {
    c.format = "safetensors";
  }
  return c;
}

Checkpoint FindCheckpoint(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file or directory");
  if (!fs::is_directory(path, ec)) return ClassifyFile(path);
  for (const char* name : {"model.safetensors.index.json", "model.safetensors"}) {
    const fs::path candidate = fs::path(path) / name;
    if (fs::exists(candidate, ec)) return ClassifyFile(candidate.string());
  }
  // Otherwise exactly one checkpoint-looking file.
  std::vector<std::string> safetensors, torch_files, gguf_files;
  for (const auto& entry : fs::directory_iterator(path, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (EndsWith(name, ".safetensors")) safetensors.push_back(entry.path().string());
    if (EndsWith(name, ".gguf")) gguf_files.push_back(entry.path().string());
    if (EndsWith(name, ".pt") || EndsWith(name, ".ckpt") || EndsWith(name, ".pth") ||
        EndsWith(name, ".bin"))
      torch_files.push_back(entry.path().string());
  }
  if (safetensors.size() == 1) return ClassifyFile(safetensors[0]);
  if (safetensors.empty() && torch_files.size() == 1) return ClassifyFile(torch_files[0]);
  if (safetensors.empty() && torch_files.empty() && gguf_files.size() == 1)
    return ClassifyFile(gguf_files[0]);
  throw Error(
      path + ": cannot tell which checkpoint to load (expected model.safetensors, " +
      "model.safetensors.index.json, or exactly one .safetensors / .pt / .ckpt / .gguf file; "
      "found " +
      std::to_string(safetensors.size()) + " safetensors, " + std::to_string(torch_files.size()) +
      " torch and " + std::to_string(gguf_files.size()) + " GGUF files)");
}

// Canonical (original-release) tensor names, e.g. "blocks.0.attn.attn_key.weight".
struct NameMap {
  std::map<std::string, const TensorView*> by_name;
  bool hf_prefix = false;
  bool orig_mod = false;
};

NameMap CanonicalNames(const io::TensorStore& store, const std::string& origin) {
  NameMap map;
  for (const TensorView& t : store.tensors()) {
    std::string name = t.name;
    for (const std::string prefix : {"_orig_mod.", "module."}) {
      while (name.rfind(prefix, 0) == 0) {
        name.erase(0, prefix.size());
        if (prefix == "_orig_mod.") map.orig_mod = true;
      }
    }
    if (name.rfind("model.", 0) == 0) {
      name.erase(0, 6);
      map.hf_prefix = true;
    }
    if (!map.by_name.emplace(name, &t).second)
      throw Error(origin + ": tensors '" + t.name + "' and '" + map.by_name[name]->name +
                  "' map to the same weight '" + name + "'");
  }
  return map;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Infers the config of a checkpoint without config.json from its tensors.
ModelConfig InferConfig(const NameMap& names, const std::string& origin) {
  ModelConfig c;
  c.key_family = "inferred";
  auto get = [&](const std::string& name) -> const TensorView& {
    auto it = names.by_name.find(name);
    if (it == names.by_name.end())
      throw Error(origin + ": no config.json and tensor '" + name +
                  "' is missing, cannot infer the model shape");
    return *it->second;
  };
  const TensorView& embed = get("embed.weight");
  Check(embed.shape.size() == 2,
        origin + ": tensor 'embed.weight' must be 2-D, got " + ShapeString(embed.shape));
  c.vocab_size = embed.shape[0];
  c.n_embd = embed.shape[1];
  while (names.by_name.count("blocks." + std::to_string(c.n_layer) + ".attn.attn_query.weight"))
    ++c.n_layer;
  Check(c.n_layer > 0,
        origin + ": no config.json and no 'blocks.0.*' tensors, cannot infer the model shape");
  const TensorView& head_gain = get("blocks.0.attn.head_gain.head_g");
  Check(head_gain.shape.size() == 1 && head_gain.shape[0] > 0,
        origin + ": tensor 'blocks.0.attn.head_gain.head_g' must be 1-D, got " +
            ShapeString(head_gain.shape));
  c.n_head = head_gain.shape[0];
  Check(c.n_embd % c.n_head == 0, origin + ": hidden size " + std::to_string(c.n_embd) +
                                      " is not divisible by the head count " +
                                      std::to_string(c.n_head));
  c.head_dim = c.n_embd / c.n_head;
  const TensorView& gate = get("blocks.0.mlp.mlp_gate.weight");
  Check(gate.shape.size() == 2, origin + ": tensor 'blocks.0.mlp.mlp_gate.weight' must be 2-D");
  c.intermediate_size = gate.shape[0];
  ValidateConfig(c, origin + " (inferred)");
  return c;
}

class Binder {
 public:
  Binder(const NameMap& names, io::TensorStore* store, const std::string& origin)
      : names_(names), store_(store), origin_(origin) {}

  const TensorView* Find(const std::string& name) {
    auto it = names_.by_name.find(name);
    if (it == names_.by_name.end()) return nullptr;
    used_.insert(name);
    return it->second;
  }

  const TensorView& Require(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView* t = Find(name);
    if (!t) throw Error(origin_ + ": missing tensor '" + name + "'");
    if (t->shape != shape)
      throw Error(origin_ + ": tensor '" + t->name + "' has shape " + ShapeString(t->shape) +
                  ", expected " + ShapeString(shape));
    if (t->dtype != io::DType::kF32 && t->dtype != io::DType::kF16 && t->dtype != io::DType::kBF16)
      throw Error(origin_ + ": tensor '" + t->name + "' has dtype " +
                  std::string(io::DTypeName(t->dtype)) + ", expected F32, F16 or BF16");
    n_parameters_ += t->NumElements();
    return *t;
  }

  // A matrix stored as F32 / F16 / BF16 under its name, or quantized by
  // `talkie quantize` as <name>.q8 / <name>.q4 plus <name>.q8_scales / ...
  ops::WeightMatrix Matrix(const std::string& name, int64_t rows, int64_t cols) {
    ops::WeightMatrix m;
    m.rows = rows;
    m.cols = cols;
    for (const char* format : {"q8", "q4"}) {
      const std::string qname = name + "." + format;
      if (!names_.by_name.count(qname)) continue;
      const bool q8 = std::string(format) == "q8";
      Check(cols % ops::kQuantGroup == 0, origin_ + ": tensor '" + qname +
                                              "': " + std::to_string(cols) +
                                              " columns are not a multiple of the group size 32");
      const TensorView& q =
          RequireRaw(qname, {rows, q8 ? cols : cols / 2}, q8 ? io::DType::kI8 : io::DType::kU8);
      const TensorView& d =
          RequireRaw(qname + "_scales", {rows, cols / ops::kQuantGroup}, io::DType::kF16);
      m.type = q8 ? ops::WeightType::kQ8 : ops::WeightType::kQ4;
      m.data = q.data;
      m.group_scales = static_cast<const uint16_t*>(Aligned(d));
      n_parameters_ += rows * cols;
      return m;
    }
    // ggml blocks used in place (GGUF files): <name>.<TYPE>, and for q / k
    // <name>.negated_rows (model/gguf_checkpoint.cpp).
    for (ops::WeightType type : ops::kGgmlBlockTypes) {
      const ops::GgmlBlockFormat f = ops::GgmlBlock(type);
      const std::string qname = name + "." + f.name;
      if (!names_.by_name.count(qname)) continue;
      Check(cols % f.elems == 0, origin_ + ": tensor '" + qname + "': " + std::to_string(cols) +
                                     " columns are not a multiple of " + f.name + "'s block of " +
                                     std::to_string(f.elems));
      m.type = type;
      m.data = RequireRaw(qname, {rows, cols / f.elems * f.bytes}, io::DType::kU8).data;
      if (names_.by_name.count(name + ".negated_rows"))
        m.negated_rows = reinterpret_cast<const uint8_t*>(
            RequireRaw(name + ".negated_rows", {rows}, io::DType::kU8).data);
      n_parameters_ += rows * cols;
      return m;
    }
    const TensorView& t = Require(name, {rows, cols});
    m.type = t.dtype == io::DType::kF32   ? ops::WeightType::kF32
             : t.dtype == io::DType::kF16 ? ops::WeightType::kF16
                                          : ops::WeightType::kBF16;
    m.data = Aligned(t);
    return m;
  }

  std::vector<float> Vector(const std::string& name, int64_t n) {
    const TensorView& t = Require(name, {n});
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = io::ElementAsFloat(t, i);
    for (float x : v)
      Check(std::isfinite(x), origin_ + ": tensor '" + t.name + "' holds a non-finite value");
    return v;
  }

  float Scalar(const std::string& name) { return Vector(name, 1)[0]; }

  // A tensor of exactly this shape and dtype (quantized payloads).
  const TensorView& RequireRaw(const std::string& name, const std::vector<int64_t>& shape,
                               io::DType dtype) {
    const TensorView* t = Find(name);
    if (!t) throw Error(origin_ + ": missing tensor '" + name + "'");
    if (t->shape != shape || t->dtype != dtype)
      throw Error(origin_ + ": tensor '" + t->name + "' is " +
                  std::string(io::DTypeName(t->dtype)) + " " + ShapeString(t->shape) +
                  ", expected " + std::string(io::DTypeName(dtype)) + " " + ShapeString(shape));
    return *t;
  }

  std::vector<std::string> Unused() const {
    std::vector<std::string> out;
    for (const auto& [name, view] : names_.by_name)
      if (!used_.count(name)) out.push_back(view->name);
    return out;
  }
  int64_t n_parameters() const { return n_parameters_; }

 private:
  // Kernels read elements through typed pointers; copy the rare tensor whose
  // bytes are not aligned to its element size.
  const void* Aligned(const TensorView& t) {
    const size_t align = io::DTypeSize(t.dtype);
    if (reinterpret_cast<uintptr_t>(t.data) % align == 0) return t.data;
    auto copy = std::make_shared<std::vector<float>>((t.nbytes + 3) / 4);
    std::memcpy(copy->data(), t.data, t.nbytes);
    store_->KeepAlive(copy);
    return copy->data();
  }

  const NameMap& names_;
  io::TensorStore* store_;
  std::string origin_;
  std::set<std::string> used_;
  int64_t n_parameters_ = 0;
};

}  // namespace

std::unique_ptr<Model> Model::Load(const std::string& path) {
  const Checkpoint ckpt = FindCheckpoint(path);
  std::unique_ptr<Model> model(new Model());
  std::optional<GgufCheckpoint> gguf;
  if (ckpt.format == "gguf") {
    gguf = LoadGgufCheckpoint(ckpt.file);
    model->store_ = std::move(gguf->store);
  } else if (ckpt.format == "safetensors-sharded") {
    model->store_ = io::LoadSafetensorsIndex(ckpt.file);
  } else if (ckpt.format == "pytorch-zip") {
    model->store_ = io::LoadTorchCheckpoint(ckpt.file);
  } else {
    model->store_ = io::LoadSafetensors(ckpt.file);
  }
  model->directory_ = ckpt.dir;
  model->tokenizer_path_ = gguf && gguf->has_tokenizer ? ckpt.file : ckpt.dir;
  const std::string& origin = ckpt.file;
  const NameMap names = CanonicalNames(model->store_, origin);

  LoadInfo& info = model->info_;
  info.path = path;
  info.checkpoint_format = ckpt.format;
  info.name_layout = gguf ? "gguf: " + gguf->variant : names.hf_prefix ? "hf-port" : "original";
  info.orig_mod_prefix = names.orig_mod;
  info.files = model->store_.files();
  for (const std::string& f : info.files) {
    std::error_code ec;
    info.file_bytes += fs::file_size(f, ec);
  }

  const fs::path config_path = fs::path(ckpt.dir) / "config.json";
  std::error_code ec;
  if (gguf) {
    model->config_ = gguf->config;
    info.config_source = "GGUF metadata";
  } else if (fs::exists(config_path, ec)) {
    model->config_ = LoadConfigFile(config_path.string());
    info.config_source = config_path.string();
  } else {
    model->config_ = InferConfig(names, origin);
    info.config_source = "inferred from tensors";
  }
  const ModelConfig& c = model->config_;

  Binder bind(names, &model->store_, origin);
  TalkieWeights& w = model->weights_;
  w.embed = bind.Matrix("embed.weight", c.vocab_size, c.n_embd);
  w.lm_head = bind.Matrix("lm_head", c.vocab_size, c.n_embd);
  info.lm_head_gain_present = bind.Find("lm_head_gain.w_g") != nullptr;
  if (info.lm_head_gain_present) {
    w.lm_head.scale = bind.Scalar("lm_head_gain.w_g");
    w.lm_head.has_scale = true;
  }
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    BlockWeights b;
    b.attn_query = bind.Matrix(p + "attn.attn_query.weight", c.n_embd, c.n_embd);
    b.attn_key = bind.Matrix(p + "attn.attn_key.weight", c.n_embd, c.n_embd);
    b.attn_value = bind.Matrix(p + "attn.attn_value.weight", c.n_embd, c.n_embd);
    b.attn_resid = bind.Matrix(p + "attn.attn_resid.weight", c.n_embd, c.n_embd);
    b.head_gain = bind.Vector(p + "attn.head_gain.head_g", c.n_head);
    b.attn_gain = bind.Scalar(p + "attn_gain.a_g");
    b.mlp_gate = bind.Matrix(p + "mlp.mlp_gate.weight", c.intermediate_size, c.n_embd);
    b.mlp_linear = bind.Matrix(p + "mlp.mlp_linear.weight", c.intermediate_size, c.n_embd);
    b.mlp_resid = bind.Matrix(p + "mlp.mlp_resid.weight", c.n_embd, c.intermediate_size);
    b.mlp_gain = bind.Scalar(p + "mlp_gain.a_g");
    b.embed_skip = bind.Scalar(p + "embed_skip.a_g");
    w.blocks.push_back(std::move(b));
  }
  info.unknown_tensors = bind.Unused();
  if (!w.blocks.empty() && w.blocks[0].mlp_gate.type == ops::WeightType::kQ8)
    info.quantization = "q8";
  if (!w.blocks.empty() && w.blocks[0].mlp_gate.type == ops::WeightType::kQ4)
    info.quantization = "q4";
  if (!w.blocks.empty() && ops::IsGgmlBlockType(w.blocks[0].mlp_gate.type))
    info.quantization = std::string(ops::GgmlBlock(w.blocks[0].mlp_gate.type).name) + " (GGUF)";
  info.n_parameters = bind.n_parameters();
  if (gguf) {
    info.gguf_types = gguf->file_types;
    if (info.quantization == "q8") info.quantization = "Q8_0 (GGUF)";
    if (info.quantization == "q4") info.quantization = "Q4_0 (GGUF)";
  }
  for (const TensorView& t : model->store_.tensors())
    ++info.dtype_tensor_counts[std::string(io::DTypeName(t.dtype))];
  model->rope_ = ops::RopeTable(c.head_dim, c.rope_theta, c.max_position_embeddings);
  return model;
}

}  // namespace talkie::model
