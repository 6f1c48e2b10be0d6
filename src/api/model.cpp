// The public Model and KvCache: thin adapters from the API's shaped tensors
// to model::Forward (src/model), applying the engine's settings per call.
#include "talkie/model.h"

#include <map>
#include <utility>

#include "api/access.h"
#include "api/engine_scope.h"
#include "model/evaluation.h"
#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/load_progress.h"
#include "model/model.h"
#include "model/prompt_runner.h"
#include "ops/matmul.h"
#include "ops/matmul_lowp.h"
#include "ops/norm.h"
#include "talkie/tokenizer.h"

namespace talkie {

// --- KvCache ---

KvCache::KvCache() : impl_(std::make_unique<model::KvCache>()) {}
KvCache::~KvCache() = default;
KvCache::KvCache(KvCache&&) noexcept = default;
KvCache& KvCache::operator=(KvCache&&) noexcept = default;

int64_t KvCache::batch() const { return impl_->batch(); }
int64_t KvCache::length() const { return impl_->length(); }
int64_t KvCache::capacity() const { return impl_->capacity(); }

void KvCache::Truncate(int64_t n) {
  Check(n >= 0 && n <= impl_->length(), "KvCache::Truncate: n must be in [0, " +
                                            std::to_string(impl_->length()) + "], got " +
                                            std::to_string(n));
  impl_->Truncate(n);
}

KvCache KvCache::Copy() const { return ModelAccess::Wrap(*impl_); }

KvCache KvCache::SelectRows(const std::vector<int64_t>& rows) const {
  for (size_t i = 0; i < rows.size(); ++i)
    Check(rows[i] >= 0 && rows[i] < impl_->batch(),
          "KvCache::SelectRows: rows[" + std::to_string(i) + "] = " + std::to_string(rows[i]) +
              " is not a row of a batch-" + std::to_string(impl_->batch()) + " cache");
  Check(!rows.empty(), "KvCache::SelectRows: no rows given");
  return ModelAccess::Wrap(impl_->SelectRows(rows));
}

KvCache ModelAccess::Wrap(model::KvCache cache) {
  KvCache out;
  *out.impl_ = std::move(cache);
  return out;
}

// --- Model ---

struct Model::Impl {
  std::unique_ptr<model::Model> model;
  Engine engine;
  ModelConfig config;
  ModelInfo info;
};

const model::Model& ModelAccess::Internal(const Model& model) { return *model.impl_->model; }

namespace {

ops::Precision ToPrecision(Policy policy) {
  return policy == Policy::kFast ? ops::Precision::kFast : ops::Precision::kExact;
}

}  // namespace

model::ModelConfig InternalShape(const ModelConfig& p) {
  model::ModelConfig c;
  c.vocab_size = p.vocab_size;
  c.n_embd = p.n_embd;
  c.n_layer = p.n_layer;
  c.n_head = p.n_head;
  c.head_dim = p.head_dim;
  c.intermediate_size = p.intermediate_size;
  c.max_position_embeddings = p.max_position_embeddings;
  return c;
}

namespace {

ModelConfig PublicConfig(const model::ModelConfig& c) {
  ModelConfig p;
  p.vocab_size = c.vocab_size;
  p.n_embd = c.n_embd;
  p.n_layer = c.n_layer;
  p.n_head = c.n_head;
  p.head_dim = c.head_dim;
  p.intermediate_size = c.intermediate_size;
  p.max_position_embeddings = c.max_position_embeddings;
  p.rope_theta = c.rope_theta;
  p.eos_token_id = c.eos_token_id;
  return p;
}

ModelInfo PublicInfo(const model::Model& m) {
  const model::LoadInfo& i = m.info();
  ModelInfo p;
  p.path = i.path;
  p.directory = m.directory();
  p.checkpoint_format = i.checkpoint_format;
  p.name_layout = i.name_layout;
  p.config_source = i.config_source;
  p.quantization = i.quantization;
  p.config_keys = m.config().key_family;
  p.tokenizer_path = m.tokenizer_path();
  p.lm_head_gain_present = i.lm_head_gain_present;
  p.orig_mod_prefix = i.orig_mod_prefix;
  p.gguf_types = i.gguf_types;
  p.unknown_tensors = i.unknown_tensors;
  p.files = i.files;
  p.file_bytes = i.file_bytes;
  p.n_parameters = i.n_parameters;
  p.dtype_tensor_counts = i.dtype_tensor_counts;
  return p;
}

// [batch, n] with the given batch, or empty.
void CheckRowsShape(const std::vector<int64_t>& shape, int64_t batch, const char* name) {
  Check(shape.size() == 2, std::string("Forward: ") + name + " must be 2-d [batch, n], got shape " +
                               Tensor<int>::ShapeString(shape));
  Check(shape[0] == batch, std::string("Forward: ") + name + " has " + std::to_string(shape[0]) +
                               " rows but input_ids has " + std::to_string(batch));
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::Load(const std::string& path, const Engine& engine, const ProgressCallback& progress) {
  auto impl = std::make_unique<Impl>(Impl{nullptr, engine, {}, {}});
  api::EngineScope scope(engine);
  const model::ScopedLoadProgress observer(progress);
  impl->model = model::Model::Load(path.empty() ? DefaultModelPath() : path);
  impl->model->SetPrecision(ToPrecision(engine.options().policy));
  impl->config = PublicConfig(impl->model->config());
  impl->info = PublicInfo(*impl->model);
  return Model(std::move(impl));
}

const ModelConfig& Model::config() const { return impl_->config; }
const ModelInfo& Model::info() const { return impl_->info; }
const Engine& Model::engine() const { return impl_->engine; }

void Model::SetPolicy(Policy policy, const ProgressCallback& progress) {
  EngineOptions options = impl_->engine.options();
  options.policy = policy;
  Engine engine(options);
  api::EngineScope scope(engine);
  const model::ScopedLoadProgress observer(progress);
  impl_->model->SetPrecision(ToPrecision(policy));
  impl_->engine = std::move(engine);
}

Model::WeightFootprint Model::weight_footprint() const {
  WeightFootprint f;
  for (const ops::WeightMatrix* w : impl_->model->weights().MatMuls()) {
    f.matmul_bytes += ops::WeightBytes(*w);
    f.matmul_parameters += w->rows * w->cols;
  }
  return f;
}

std::string Model::fast_kernel_path() const {
  api::EngineScope scope(impl_->engine);
  return ops::LowPrecisionPath(impl_->model->weights().lm_head.type);
}

KvCache Model::NewCache(int64_t batch, int64_t capacity) const {
  const int64_t context = impl_->config.max_position_embeddings;
  Check(batch >= 1, "NewCache: batch must be >= 1, got " + std::to_string(batch));
  Check(capacity >= 0 && capacity <= context,
        "NewCache: capacity must be in [0, " + std::to_string(context) + "] (0 = context), got " +
            std::to_string(capacity));
  return ModelAccess::Wrap(model::KvCache(impl_->model->config(), batch, capacity));
}

ForwardResult Model::Forward(const ForwardRequest& request, KvCache* cache) const {
  const bool embeds = !request.inputs_embeds.shape().empty();
  Check(!embeds || request.input_ids.shape().empty(),
        "Forward: give input_ids or inputs_embeds, not both");
  const std::vector<int64_t>& ids_shape =
      embeds ? request.inputs_embeds.shape() : request.input_ids.shape();
  Check(embeds ? ids_shape.size() == 3 && ids_shape[2] == impl_->config.n_embd
               : ids_shape.size() == 2,
        std::string("Forward: ") +
            (embeds ? "inputs_embeds must be [batch, q_len, n_embd = " +
                          std::to_string(impl_->config.n_embd) + "]"
                    : "input_ids must be 2-d [batch, q_len]") +
            ", got shape " + Tensor<int>::ShapeString(ids_shape));
  const int64_t batch = ids_shape[0], q_len = ids_shape[1];
  Check(batch >= 1 && q_len >= 1,
        "Forward: input_ids is empty (shape " + Tensor<int>::ShapeString(ids_shape) + ")");
  if (!request.attention_mask.shape().empty())
    CheckRowsShape(request.attention_mask.shape(), batch, "attention_mask");
  if (!request.position_ids.shape().empty())
    CheckRowsShape(request.position_ids.shape(), batch, "position_ids");

  model::ForwardInput in;
  in.batch = batch;
  in.q_len = q_len;
  in.ids = request.input_ids.values();
  in.inputs_embeds = request.inputs_embeds.values();
  in.attention_mask = request.attention_mask.values();
  in.position_ids = request.position_ids.values();
  in.output_hidden_states = request.output_hidden_states;
  in.output_attentions = request.output_attentions;
  in.logits = static_cast<model::LogitsFor>(request.logits);
  in.logit_positions = request.logit_positions;
  in.allow_padding_only_rows = request.allow_padding_only_rows;
  // The caller's hooks, then one read hook per capture name that gathers each
  // sequence's rows into [batch, ...] tensors.
  struct Captured {
    std::vector<int64_t> shape;
    std::vector<float> data;
  };
  std::map<std::string, Captured> captured;
  model::HookSet hooks;
  if (const model::HookSet* user = ModelAccess::Internal(request.hooks)) hooks.Append(*user);
  for (const std::string& name : request.capture)
    hooks.Add(
        name,
        [&captured, batch](const model::HookCall& call) {
          Captured& c = captured[model::HookNameString(call.point, call.layer)];
          size_t n = 1;
          for (int64_t d : call.shape) n *= static_cast<size_t>(d);
          if (c.data.empty()) {
            c.shape = {batch};
            c.shape.insert(c.shape.end(), call.shape.begin(), call.shape.end());
            c.data.resize(n * static_cast<size_t>(batch));
          }
          std::copy_n(call.data, n, c.data.data() + n * call.sequence);
        },
        model::HookAccess::kRead);
  if (!hooks.empty()) in.hooks = &hooks;

  api::EngineScope scope(impl_->engine);
  model::ForwardOutput out;
  if (cache != nullptr) {
    out = model::Forward(*impl_->model, ModelAccess::Internal(*cache), in);
  } else {
    model::KvCache fresh(impl_->model->config(), batch,
                         std::min(q_len, impl_->config.max_position_embeddings));
    out = model::Forward(*impl_->model, fresh, in);
  }

  ForwardResult r;
  const int64_t vocab = impl_->config.vocab_size;
  const auto positions = static_cast<int64_t>(out.logit_positions.size());
  r.logits = Tensor<float>({out.batch, positions, vocab}, std::move(out.logits));
  r.logit_positions = std::move(out.logit_positions);
  for (auto& h : out.hidden_states)
    r.hidden_states.emplace_back(std::vector<int64_t>{out.batch, out.q_len, impl_->config.n_embd},
                                 std::move(h));
  for (auto& a : out.attentions)
    r.attentions.emplace_back(
        std::vector<int64_t>{out.batch, impl_->config.n_head, out.q_len, out.kv_len}, std::move(a));
  r.position_ids = Tensor<int64_t>({out.batch, out.q_len}, std::move(out.position_ids));
  for (auto& [name, c] : captured)
    r.captured.emplace(name, Tensor<float>(std::move(c.shape), std::move(c.data)));
  return r;
}

std::vector<PromptOutputs> Model::ForwardPrompts(const std::vector<std::vector<int32_t>>& prompts,
                                                 const PromptRunOptions& options) const {
  model::PromptRunOptions o;
  o.chunk = options.chunk;
  o.output_hidden_states = options.output_hidden_states;
  o.output_attentions = options.output_attentions;
  o.pad_id = options.pad_id;
  o.hooks = ModelAccess::Internal(options.hooks);
  api::EngineScope scope(impl_->engine);
  std::vector<model::SequenceOutputs> runs = model::RunPrompts(*impl_->model, prompts, o);
  const ModelConfig& c = impl_->config;
  std::vector<PromptOutputs> out(runs.size());
  for (size_t b = 0; b < runs.size(); ++b) {
    const auto len = static_cast<int64_t>(prompts[b].size());
    out[b].logits = Tensor<float>({len, c.vocab_size}, std::move(runs[b].logits));
    for (auto& h : runs[b].hidden_states)
      out[b].hidden_states.emplace_back(std::vector<int64_t>{len, c.n_embd}, std::move(h));
    for (auto& a : runs[b].attentions)
      out[b].attentions.emplace_back(std::vector<int64_t>{c.n_head, len, len}, std::move(a));
  }
  return out;
}

Tensor<float> Model::Embed(const Tensor<int32_t>& ids) const {
  const int64_t n_embd = impl_->config.n_embd, vocab = impl_->config.vocab_size;
  std::vector<int64_t> shape = ids.shape();
  shape.push_back(n_embd);
  Tensor<float> out(shape);
  const model::TalkieWeights& w = impl_->model->weights();
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids.data()[i];
    Check(id >= 0 && id < vocab, "Embed: token id " + std::to_string(id) + " at index " +
                                     std::to_string(i) + " is outside the vocabulary [0, " +
                                     std::to_string(vocab) + ")");
    ops::WeightRowToFloat(w.embed, id, out.data() + i * n_embd);
  }
  return out;
}

Tensor<float> Model::Unembed(const Tensor<float>& hidden, bool apply_final_norm) const {
  const int64_t n_embd = impl_->config.n_embd, vocab = impl_->config.vocab_size;
  Check(hidden.ndim() >= 1 && hidden.shape().back() == n_embd,
        "Unembed: hidden must be [..., n_embd = " + std::to_string(n_embd) + "], got shape " +
            Tensor<float>::ShapeString(hidden.shape()));
  const auto rows = static_cast<int64_t>(hidden.size()) / n_embd;
  std::vector<int64_t> shape = hidden.shape();
  shape.back() = vocab;
  Tensor<float> logits(shape);
  if (rows == 0) return logits;
  api::EngineScope scope(impl_->engine);
  std::vector<float> normed;
  const float* x = hidden.data();
  if (apply_final_norm) {
    normed.resize(hidden.size());
    ops::RmsNormRows(x, rows, n_embd, normed.data());
    x = normed.data();
  }
  ops::MatMul(x, rows, impl_->model->weights().lm_head, logits.data());
  return logits;
}

ScoreResult Model::Score(const std::vector<int32_t>& ids, int64_t window, int64_t stride,
                         const Hooks* hooks,
                         const std::function<void(int64_t, int64_t)>& progress) const {
  api::EngineScope scope(impl_->engine);
  const model::PerplexityResult p =
      model::Perplexity(*impl_->model, ids, window, stride, ModelAccess::Internal(hooks), progress);
  ScoreResult r;
  r.token_logprobs.reserve(p.token_nll.size());
  for (double nll : p.token_nll) r.token_logprobs.push_back(static_cast<float>(-nll));
  r.mean_nll = p.mean_nll;
  r.perplexity = p.perplexity;
  return r;
}

// --- Tokenizer::ForModel (here, not in tokenizer.cpp, which then needs no
// model: the request-parser fuzzer links it alone) ---

Tokenizer Tokenizer::ForModel(const Model& model) { return ForModel(model, ""); }

Tokenizer Tokenizer::ForModel(const Model& model, const std::string& path) {
  const model::Model& m = ModelAccess::Internal(model);
  return Tokenizer(std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::FromPath(
      path.empty() ? m.tokenizer_path() : path, std::nullopt, m.config().vocab_size)));
}

}  // namespace talkie
