// `talkie capture`: corpus-scale activation capture. Runs documents (token id
// lists, text files, or JSON lines) through the model in left-padded batches,
// reads the requested hook points (talkie/hooks.h) and streams them to disk as
// safetensors shards of bounded size, plus manifest.json describing the run.
// `--shard I/N` takes the I-th (0-based) of N contiguous equal slices of the
// corpus, so a cluster job array can split the work (docs/scaling.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/output_guard.h"
#include "cli/progress_bar.h"
#include "cli/steering_options.h"
#include "cli/validators.h"
#include "talkie/atomic_file.h"
#include "talkie/engine.h"
#include "talkie/error.h"
#include "talkie/hooks.h"
#include "talkie/model.h"
#include "talkie/steering.h"
#include "talkie/tensor_file.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CaptureArgs {
  std::string model;
  std::string hooks;
  std::vector<std::string> ids;
  std::vector<std::string> files;
  std::string jsonl;
  std::string positions = "all";
  std::string dtype = "f32";
  std::string shard = "0/1";
  std::string out;
  int64_t shard_tokens = 0;  // 0: only the byte budget
  int64_t shard_mb = 1024;
  int64_t batch_tokens = 2048;
  bool allow_special = false;
  bool force = false;
  int threads = 0;
  std::string policy = "exact";
  SteeringArgs steering;  // the captured activations are the steered ones
};

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::string Absolute(const std::string& path) {
  return fs::absolute(path).lexically_normal().string();
}

// --- corpus ------------------------------------------------------------------

// One document: either token ids or text to encode; `where` names it in errors.
struct RawDocument {
  std::vector<int32_t> ids;
  std::optional<std::string> text;
  std::string where;
};

// The documents of the corpus, counted first (for --shard) and then read one
// at a time, so a corpus larger than memory streams through.
class Corpus {
 public:
  virtual ~Corpus() = default;
  virtual int64_t size() const = 0;
  // Calls fn(index, doc) for the documents [begin, end), in order.
  virtual void Read(int64_t begin, int64_t end,
                    const std::function<void(int64_t, RawDocument&&)>& fn) const = 0;
  virtual json Describe() const = 0;
};

class IdsCorpus : public Corpus {
 public:
  explicit IdsCorpus(const std::vector<std::string>& lists) {
    for (const std::string& text : lists) docs_.push_back(ParseIdList(text, "--ids"));
  }
  int64_t size() const override { return static_cast<int64_t>(docs_.size()); }
  void Read(int64_t begin, int64_t end,
            const std::function<void(int64_t, RawDocument&&)>& fn) const override {
    for (int64_t d = begin; d < end; ++d)
      fn(d, RawDocument{docs_[static_cast<size_t>(d)], std::nullopt,
                        "--ids list " + std::to_string(d + 1)});
  }
  json Describe() const override { return {{"source", "ids"}, {"paths", json::array()}}; }

 private:
  std::vector<std::vector<int32_t>> docs_;
};

// --file: each file is one document (its whole text).
class FilesCorpus : public Corpus {
 public:
  explicit FilesCorpus(std::vector<std::string> paths) : paths_(std::move(paths)) {
    for (const std::string& p : paths_) CheckReadableFile(p, "--file");
  }
  int64_t size() const override { return static_cast<int64_t>(paths_.size()); }
  void Read(int64_t begin, int64_t end,
            const std::function<void(int64_t, RawDocument&&)>& fn) const override {
    for (int64_t d = begin; d < end; ++d) {
      const std::string& path = paths_[static_cast<size_t>(d)];
      std::ifstream in(path, std::ios::binary);
      Check(in.good(), "--file " + path + ": cannot be read");
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      fn(d, RawDocument{{}, std::move(text), "--file " + path});
    }
  }
  json Describe() const override {
    json paths = json::array();
    for (const std::string& p : paths_) paths.push_back(Absolute(p));
    return {{"source", "file"}, {"paths", paths}};
  }

 private:
  std::vector<std::string> paths_;
};

// --jsonl: one JSON object per non-blank line, {"text": "..."} or {"ids": [...]}.
// Blank lines are skipped and are not documents.
class JsonlCorpus : public Corpus {
 public:
  explicit JsonlCorpus(std::string path) : path_(std::move(path)) {
    CheckReadableFile(path_, "--jsonl");
    std::ifstream in(path_, std::ios::binary);
    std::string line;
    while (std::getline(in, line))
      if (!Trim(line).empty()) ++count_;
    Check(!in.bad(), "--jsonl " + path_ + ": read error");
  }
  int64_t size() const override { return count_; }
  void Read(int64_t begin, int64_t end,
            const std::function<void(int64_t, RawDocument&&)>& fn) const override {
    std::ifstream in(path_, std::ios::binary);
    std::string line;
    int64_t line_no = 0, doc = 0;
    while (doc < end && std::getline(in, line)) {
      ++line_no;
      if (Trim(line).empty()) continue;
      const int64_t index = doc++;
      if (index < begin) continue;
      fn(index, Parse(line, line_no));
    }
    Check(!in.bad(), "--jsonl " + path_ + ": read error");
  }
  json Describe() const override {
    return {{"source", "jsonl"}, {"paths", json::array({Absolute(path_)})}};
  }

 private:
  RawDocument Parse(const std::string& line, int64_t line_no) const {
    const std::string where = "--jsonl " + path_ + " line " + std::to_string(line_no);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error&) {
      throw Error(where + ": not valid JSON");
    }
    const std::string expected = ": expected an object with a \"text\" string or an \"ids\" array";
    Check(j.is_object(), where + expected);
    RawDocument doc;
    doc.where = where;
    if (j.contains("text")) {
      Check(j["text"].is_string(), where + ": \"text\" must be a string");
      doc.text = j["text"].get<std::string>();
    } else if (j.contains("ids")) {
      Check(j["ids"].is_array(), where + ": \"ids\" must be an array of token ids");
      for (const json& id : j["ids"]) {
        Check(id.is_number_integer() && id.get<int64_t>() >= 0 &&
                  id.get<int64_t>() <= std::numeric_limits<int32_t>::max(),
              where + ": \"ids\" must hold non-negative integer token ids");
        doc.ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
      }
    } else {
      throw Error(where + expected);
    }
    return doc;
  }

  std::string path_;
  int64_t count_ = 0;
};

// --- options -----------------------------------------------------------------

struct ShardSpec {
  int64_t index = 0, count = 1;
};

ShardSpec ParseShard(const std::string& text) {
  const std::string bad = "--shard " + text +
                          ": expected I/N with 0 <= I < N (I is 0-based, as "
                          "SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are)";
  const size_t slash = text.find('/');
  Check(slash != std::string::npos && slash > 0 && slash + 1 < text.size(), bad);
  const std::string a = text.substr(0, slash), b = text.substr(slash + 1);
  auto digits = [](const std::string& s) {
    return s.size() <= 12 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  Check(digits(a) && digits(b), bad);
  ShardSpec s{std::stoll(a), std::stoll(b)};
  Check(s.count >= 1 && s.index < s.count, bad);
  return s;
}

struct ConcreteHook {
  std::string name;  // e.g. "blocks.3.hook_resid_post"
  bool pattern;      // hook_pattern: per-document [n_head, q, len] tensors
  int64_t width;     // row width; 0 for hook_pattern
};

// "a,b,blocks.*.x" -> the names, checked before the model is loaded (unknown
// names fail early); blocks are checked against the model by Expand.
std::vector<std::string> ParseHooks(const std::string& text) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string name = Trim(text.substr(start, comma - start));
    Check(!name.empty(), "--hooks: empty hook name in \"" + text + "\"");
    try {
      Hooks().Add(
          name, [](const HookEvent&) {}, /*read_only=*/true);  // throws for a bad name
    } catch (const Error& e) {
      throw Error(std::string("--hooks: ") + e.what());
    }
    names.push_back(name);
    start = comma + 1;
  }
  return names;
}

std::vector<ConcreteHook> Expand(const std::vector<std::string>& names, const ModelConfig& c) {
  std::vector<ConcreteHook> hooks;
  std::set<std::string> seen;
  for (const std::string& pattern : names) {
    std::vector<std::string> concrete;
    try {
      concrete = Hooks::Expand(pattern, c);
    } catch (const Error& e) {
      throw Error(std::string("--hooks ") + e.what());
    }
    for (const std::string& name : concrete) {
      if (!seen.insert(name).second) continue;
      const int64_t width = Hooks::RowWidth(name, c);
      hooks.push_back({name, width == 0, width});
    }
  }
  return hooks;
}

// --- shards ------------------------------------------------------------------

// What is buffered for the next shard file (`bytes` counts them in the
// output dtype).
struct ShardBuffer {
  std::vector<std::vector<float>> rows;  // per hook (empty for hook_pattern)
  TensorFile patterns;                   // per document and hook_pattern hook
  std::vector<int32_t> token_ids;
  std::vector<int64_t> doc_offsets{0};
  int64_t first_doc = 0, docs = 0, n_rows = 0;
  size_t bytes = 0;
};

class CaptureWriter {
 public:
  CaptureWriter(std::string dir, const std::vector<ConcreteHook>& hooks, bool bf16,
                int64_t shard_rows, size_t shard_bytes)
      : dir_(std::move(dir)),
        hooks_(hooks),
        bf16_(bf16),
        shard_rows_(shard_rows),
        shard_bytes_(shard_bytes) {
    Reset(0);
  }

  // Appends values [n] (rounded to bf16 when the shard is written).
  void AppendValues(std::vector<float>& to, const float* values, size_t n) {
    to.insert(to.end(), values, values + n);
    buffer_.bytes += (bf16_ ? 2 : 4) * n;
  }

  // One document's outputs: rows[k] for row hooks ([n_rows, width]),
  // patterns[k] ([n_head, q, len]) for hook_pattern ones.
  void AddDocument(int64_t index, const std::vector<int32_t>& ids, int64_t n_rows,
                   const std::vector<std::vector<float>>& rows,
                   const std::vector<std::vector<int64_t>>& pattern_shapes) {
    if (buffer_.docs == 0) buffer_.first_doc = index;
    for (size_t k = 0; k < hooks_.size(); ++k) {
      if (hooks_[k].pattern) {
        std::vector<float> values;
        AppendValues(values, rows[k].data(), rows[k].size());
        buffer_.patterns.Add(hooks_[k].name + ".doc" + std::to_string(index),
                             Tensor<float>(pattern_shapes[k], std::move(values)), bf16_);
      } else {
        AppendValues(buffer_.rows[k], rows[k].data(), rows[k].size());
      }
    }
    buffer_.token_ids.insert(buffer_.token_ids.end(), ids.begin(), ids.end());
    buffer_.doc_offsets.push_back(static_cast<int64_t>(buffer_.token_ids.size()));
    buffer_.bytes += ids.size() * 4 + 8;
    buffer_.docs += 1;
    buffer_.n_rows += n_rows;
    if ((shard_rows_ > 0 && buffer_.n_rows >= shard_rows_) || buffer_.bytes >= shard_bytes_)
      Flush();
  }

  void Flush() {
    if (buffer_.docs == 0) return;
    TensorFile file;
    file.metadata = {{"format", "pt"}, {"producer", "talkie capture"}};
    // The buffers are moved into the file, not copied.
    for (size_t k = 0; k < hooks_.size(); ++k) {
      if (hooks_[k].pattern) continue;
      file.Add(hooks_[k].name,
               Tensor<float>({buffer_.n_rows, hooks_[k].width}, std::move(buffer_.rows[k])), bf16_);
    }
    for (TensorFileEntry& t : buffer_.patterns.tensors) file.tensors.push_back(std::move(t));
    const auto n_tokens = static_cast<int64_t>(buffer_.token_ids.size());
    file.Add("token_ids", Tensor<int32_t>({n_tokens}, std::move(buffer_.token_ids)));
    const auto n_offsets = static_cast<int64_t>(buffer_.doc_offsets.size());
    file.Add("doc_offsets", Tensor<int64_t>({n_offsets}, std::move(buffer_.doc_offsets)));

    char name[32];
    std::snprintf(name, sizeof name, "shard-%05zu.safetensors", shards_.size());
    SaveTensorFile((fs::path(dir_) / name).string(), file);
    shards_.push_back({{"file", name},
                       {"documents", {buffer_.first_doc, buffer_.first_doc + buffer_.docs}},
                       {"tokens", {tokens_, tokens_ + n_tokens}},
                       {"rows", buffer_.n_rows}});
    tokens_ += n_tokens;
    rows_ += buffer_.n_rows;
    Reset(buffer_.first_doc + buffer_.docs);
  }

  const nlohmann::ordered_json& shards() const { return shards_; }
  int64_t tokens() const { return tokens_; }
  int64_t rows() const { return rows_; }

 private:
  void Reset(int64_t next_doc) {
    buffer_ = ShardBuffer{};
    buffer_.rows.resize(hooks_.size());
    buffer_.first_doc = next_doc;
  }

  std::string dir_;
  const std::vector<ConcreteHook>& hooks_;
  bool bf16_;
  int64_t shard_rows_;
  size_t shard_bytes_;
  ShardBuffer buffer_;
  nlohmann::ordered_json shards_ = nlohmann::ordered_json::array();
  int64_t tokens_ = 0, rows_ = 0;
};

// --- forward -----------------------------------------------------------------

struct Document {
  int64_t index = 0;
  std::vector<int32_t> ids;
};

// Runs one left-padded batch in a single Forward call and hands each
// document's captured rows (real tokens only; the last one with last_only)
// to the writer, in corpus order.
void RunBatch(const Model& m, const std::vector<ConcreteHook>& hooks, const Hooks& steering,
              bool last_only, const std::vector<Document>& batch, CaptureWriter& writer) {
  const auto n = static_cast<int64_t>(batch.size());
  int64_t total = 0;
  for (const Document& d : batch) total = std::max<int64_t>(total, d.ids.size());
  std::vector<int64_t> pad(batch.size());
  ForwardRequest in;
  in.input_ids = Tensor<int32_t>({n, total}, 0);
  in.attention_mask = Tensor<uint8_t>({n, total}, 0);
  for (int64_t b = 0; b < n; ++b) {
    const std::vector<int32_t>& ids = batch[b].ids;
    pad[b] = total - static_cast<int64_t>(ids.size());
    for (int64_t t = pad[b]; t < total; ++t) {
      in.input_ids.at({b, t}) = ids[t - pad[b]];
      in.attention_mask.at({b, t}) = 1;
    }
  }
  in.allow_padding_only_rows = true;  // the padded rows; their outputs are dropped
  bool wants_logits = false;
  for (const ConcreteHook& h : hooks) wants_logits |= h.name == "logits";
  in.logits = !wants_logits ? LogitsFor::kNone : last_only ? LogitsFor::kLast : LogitsFor::kAll;

  // captured[b][k]: document b's values of hook k.
  std::vector<std::vector<std::vector<float>>> captured(
      batch.size(), std::vector<std::vector<float>>(hooks.size()));
  std::vector<std::vector<std::vector<int64_t>>> pattern_shapes(
      batch.size(), std::vector<std::vector<int64_t>>(hooks.size()));
  Hooks set = steering;  // steering first: the capture reads what it wrote
  for (size_t k = 0; k < hooks.size(); ++k) {
    const ConcreteHook& hook = hooks[k];
    set.Add(
        hook.name,
        [&, k](const HookEvent& call) {
          const int64_t b = call.sequence;
          const int64_t p = pad[b];
          const auto len = total - p;
          auto keep = [&](int64_t slot) { return slot >= p && (!last_only || slot == total - 1); };
          std::vector<float>& to = captured[b][k];
          const auto q_rows = static_cast<int64_t>(call.slots.size());
          if (hooks[k].pattern) {
            const int64_t heads = call.shape[0], kv_len = call.shape[2];
            Check(kv_len == total, "capture: unexpected hook_pattern key length");
            const int64_t kept_q = last_only ? 1 : len;
            to.resize(static_cast<size_t>(heads * kept_q * len));
            pattern_shapes[b][k] = {heads, kept_q, len};
            for (int64_t h = 0; h < heads; ++h)
              for (int64_t r = 0; r < q_rows; ++r) {
                const int64_t slot = call.slots[r];
                if (!keep(slot)) continue;
                const int64_t q = last_only ? 0 : slot - p;
                std::copy_n(call.data + (h * q_rows + r) * kv_len + p, len,
                            to.data() + (h * kept_q + q) * len);
              }
            return;
          }
          int64_t width = 1;
          for (size_t i = 1; i < call.shape.size(); ++i) width *= call.shape[i];
          for (int64_t r = 0; r < q_rows; ++r)
            if (keep(call.slots[r]))
              to.insert(to.end(), call.data + r * width, call.data + (r + 1) * width);
        },
        /*read_only=*/true);
  }
  in.hooks = &set;
  m.Forward(in);
  for (int64_t b = 0; b < n; ++b) {
    const auto len = static_cast<int64_t>(batch[b].ids.size());
    writer.AddDocument(batch[b].index, batch[b].ids, last_only ? 1 : len, captured[b],
                       pattern_shapes[b]);
    captured[b].clear();
  }
}

// What steered the run, for the manifest: files (absolute) with their scales.
nlohmann::ordered_json SteeringManifest(const SteeringArgs& s, const Steering& steering) {
  nlohmann::ordered_json vectors = nlohmann::ordered_json::array();
  for (const auto& [file, scale] : steering.control_vectors())
    vectors.push_back({{"file", Absolute(file)}, {"scale", scale}});
  nlohmann::ordered_json out = {{"control_vectors", vectors}};
  if (!s.layer_range.empty()) out["layer_range"] = s.layer_range;
  nlohmann::ordered_json ablate = nlohmann::ordered_json::array();
  for (const std::string& f : s.ablate) ablate.push_back(Absolute(f));
  out["ablate_directions"] = ablate;
  return out;
}

void RunCapture(const CaptureArgs& a) {
  // Everything given is checked before the model loads.
  Check(!a.hooks.empty(), "--hooks: give at least one hook name (e.g. blocks.*.hook_resid_post)");
  const std::vector<std::string> names = ParseHooks(a.hooks);
  Check(a.positions == "all" || a.positions == "last",
        "--positions must be all or last, got " + a.positions);
  Check(a.dtype == "f32" || a.dtype == "bf16", "--dtype must be f32 or bf16, got " + a.dtype);
  const ShardSpec shard = ParseShard(a.shard);
  const int sources = !a.ids.empty() + !a.files.empty() + !a.jsonl.empty();
  Check(sources == 1, "give the corpus as exactly one of --ids, --file or --jsonl");
  const Engine engine = MakeEngine(a.policy, a.threads);
  std::unique_ptr<Corpus> corpus;
  if (!a.ids.empty())
    corpus = std::make_unique<IdsCorpus>(a.ids);
  else if (!a.files.empty())
    corpus = std::make_unique<FilesCorpus>(a.files);
  else
    corpus = std::make_unique<JsonlCorpus>(a.jsonl);
  Check(corpus->size() > 0, "empty corpus: --jsonl " + a.jsonl + " has no documents");
  const std::string model_path = ResolveModelPath(a.model);
  const std::vector<std::string> old_shards = CheckCaptureOutputDir(a.out, model_path, a.force);
  const Steering steering = LoadSteering(a.steering);

  const Model m = LoadModel(model_path, engine);
  const ModelConfig& c = m.config();
  const Hooks steering_hooks = steering.MakeHooks(c);
  const std::vector<ConcreteHook> hooks = Expand(names, c);
  const bool last_only = a.positions == "last";
  const int64_t docs = corpus->size();
  const int64_t begin = docs * shard.index / shard.count;
  const int64_t end = docs * (shard.index + 1) / shard.count;

  std::error_code ec;
  fs::create_directory(a.out, ec);
  Check(fs::is_directory(a.out), "--out " + a.out + ": cannot create the folder");
  // The old manifest goes first: a run that dies midway leaves no manifest
  // describing a mix of old and new shards.
  fs::remove(fs::path(a.out) / "manifest.json", ec);

  std::optional<Tokenizer> tok;
  CaptureWriter writer(a.out, hooks, a.dtype == "bf16", a.shard_tokens,
                       static_cast<size_t>(a.shard_mb) << 20);
  ProgressBar bar;
  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0, tokens = 0;
  std::vector<Document> batch;
  int64_t batch_len = 0;
  auto run = [&] {
    if (batch.empty()) return;
    RunBatch(m, hooks, steering_hooks, last_only, batch, writer);
    for (const Document& d : batch) tokens += static_cast<int64_t>(d.ids.size());
    done += static_cast<int64_t>(batch.size());
    bar.UpdateTokens("capture", static_cast<uint64_t>(done), static_cast<uint64_t>(end - begin),
                     "docs", static_cast<uint64_t>(tokens));
    batch.clear();
    batch_len = 0;
  };
  // Drawn at 0 first, so the rate counts the first batch's time too.
  bar.UpdateTokens("capture", 0, static_cast<uint64_t>(end - begin), "docs", 0);
  corpus->Read(begin, end, [&](int64_t index, RawDocument&& raw) {
    Document doc{index, std::move(raw.ids)};
    if (raw.text) {
      if (!tok) tok.emplace(Tokenizer::ForModel(m));
      doc.ids = tok->Encode(*raw.text, a.allow_special);
    }
    const auto len = static_cast<int64_t>(doc.ids.size());
    Check(len > 0, raw.where + ": empty document (no tokens)");
    Check(len <= c.max_position_embeddings,
          raw.where + ": document has " + std::to_string(len) + " tokens; the model's context is " +
              std::to_string(c.max_position_embeddings) + " (split long documents before capture)");
    for (int32_t id : doc.ids)
      Check(id < c.vocab_size, raw.where + ": token id " + std::to_string(id) +
                                   " is outside the vocabulary [0, " +
                                   std::to_string(c.vocab_size) + ")");
    const int64_t longest = std::max(batch_len, len);
    if (!batch.empty() && longest * static_cast<int64_t>(batch.size() + 1) > a.batch_tokens) run();
    batch_len = std::max(batch_len, len);
    batch.push_back(std::move(doc));
  });
  run();
  writer.Flush();
  bar.Finish();

  std::vector<std::string> hook_names;
  nlohmann::ordered_json widths = nlohmann::ordered_json::object();
  for (const ConcreteHook& h : hooks) {
    hook_names.push_back(h.name);
    if (!h.pattern) widths[h.name] = h.width;
  }
  nlohmann::ordered_json manifest = {
      {"producer", "talkie capture"},
      {"talkie_version", talkie::Version()},
      {"model", Absolute(model_path)},
      {"hooks", hook_names},
      {"widths", widths},
      {"dtype", a.dtype},
      {"positions", a.positions},
      {"shard", {{"index", shard.index}, {"count", shard.count}}},
      {"corpus",
       {{"source", corpus->Describe()["source"]},
        {"paths", corpus->Describe()["paths"]},
        {"documents", docs}}},
      {"document_range", {begin, end}},
      {"documents", end - begin},
      {"tokens", writer.tokens()},
      {"rows", writer.rows()},
      {"shards", writer.shards()},
  };
  if (!steering.empty()) manifest["steering"] = SteeringManifest(a.steering, steering);
  WriteFileAtomically((fs::path(a.out) / "manifest.json").string(), manifest.dump(2) + "\n");
  // Shards of an earlier run into this folder that this run did not rewrite.
  std::set<std::string> written;
  for (const auto& s : writer.shards()) written.insert(s.at("file").get<std::string>());
  for (const std::string& file : old_shards)
    if (!written.count(file)) fs::remove(fs::path(a.out) / file, ec);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "capture: %lld document(s), %lld tokens, %zu shard(s) in %s, %.1f tok/s\n",
               static_cast<long long>(end - begin), static_cast<long long>(tokens),
               writer.shards().size(), a.out.c_str(),
               seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0);
}

}  // namespace

void RegisterCaptureCommand(CLI::App& app) {
  auto a = std::make_shared<CaptureArgs>();
  CLI::App* cmd = app.add_subcommand(
      "capture", "Run a corpus through the model and write hook activations to safetensors shards");
  cmd->add_option("--hooks", a->hooks,
                  "comma-separated hook names, blocks.*.<point> for every block "
                  "(e.g. blocks.*.hook_resid_post,ln_final.hook_normalized)")
      ->required();
  cmd->add_option("--ids", a->ids, "one document as comma-separated token ids; repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--file", a->files, "a text file, one document (its whole text); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option(
      "--jsonl", a->jsonl,
      "JSON lines, one document per non-blank line: {\"text\": ...} or {\"ids\": [...]}");
  cmd->add_option("-m,--model", a->model,
                  "model directory or checkpoint file (default: the bundled model)");
  cmd->add_option("--positions", a->positions, "all (every token) or last (each document's last)");
  cmd->add_option("--dtype", a->dtype, "f32 or bf16 (round to nearest even)");
  cmd->add_option("--shard", a->shard,
                  "I/N: only the I-th (0-based) of N equal contiguous slices of the documents");
  cmd->add_option("-o,--out", a->out, "output folder (shard-NNNNN.safetensors, manifest.json)")
      ->required();
  cmd->add_option("--shard-tokens", a->shard_tokens,
                  "start a new shard file once one holds N rows (0 = only --shard-mb)")
      ->check(IntegerIn(0));
  cmd->add_option("--shard-mb", a->shard_mb,
                  "start a new shard file once one holds this many MiB (default 1024)")
      ->check(IntegerIn(1, 1 << 20));
  cmd->add_option("--batch-tokens", a->batch_tokens,
                  "documents per forward: at most N padded tokens (default 2048)")
      ->check(IntegerIn(1));
  cmd->add_flag("--allow-special", a->allow_special,
                "turn special-token text in documents into its ids");
  cmd->add_flag("--force", a->force,
                "write into a non-empty --out folder that is not a capture output");
  AddThreadsOption(cmd, &a->threads);
  AddPolicyOption(cmd, &a->policy);
  AddSteeringOptions(cmd, &a->steering);
  cmd->callback([a] { RunCapture(*a); });
}

}  // namespace talkie::cli
