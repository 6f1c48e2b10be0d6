// `talkie forward`: run prompts of token ids and write logits, hidden states
// and attention maps to a safetensors file (the fixture case-file layout), so
// researchers can pull activations and anyone can check the engine's
// invariance guarantees by comparing output files byte for byte.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/output_guard.h"
#include "cli/steering_options.h"
#include "cli/validators.h"
#include "talkie/error.h"
#include "talkie/hooks.h"
#include "talkie/model.h"
#include "talkie/steering.h"
#include "talkie/tensor_file.h"

namespace talkie::cli {
namespace {

struct ForwardArgs {
  std::string model;
  std::vector<std::string> ids;
  std::string out;
  bool hidden_states = false;
  bool attentions = false;
  int64_t chunk = 0;
  int threads = 0;
  int32_t pad_id = 0;
  std::string policy = "exact";
  bool force = false;
  SteeringArgs steering;
};

// One prompt's outputs for its real tokens only.
struct SequenceOutputs {
  Tensor<float> logits;                      // [len, vocab]
  std::vector<Tensor<float>> hidden_states;  // n_layer + 1 x [len, n_embd]
  std::vector<Tensor<float>> attentions;     // n_layer x [n_head, len, len]
};

// The prompts as one left-padded batch, fed through a KV cache `chunk`
// tokens at a time (0 = all at once); every row's outputs are gathered for
// its real tokens (the keys of padded slots dropped from the attention maps).
std::vector<SequenceOutputs> RunPrompts(const Model& model,
                                        const std::vector<std::vector<int32_t>>& prompts,
                                        const ForwardArgs& args, const Hooks* hooks) {
  const ModelConfig& c = model.config();
  const auto batch = static_cast<int64_t>(prompts.size());
  int64_t total = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    Check(!prompts[b].empty(), "prompt " + std::to_string(b) + ": empty id list");
    total = std::max<int64_t>(total, static_cast<int64_t>(prompts[b].size()));
  }
  const int64_t chunk = args.chunk > 0 ? args.chunk : total;

  // Row b's real tokens occupy slots [pad[b], total).
  std::vector<int64_t> pad(prompts.size());
  Tensor<int32_t> ids({batch, total}, args.pad_id);
  Tensor<uint8_t> mask({batch, total}, 0);
  std::vector<SequenceOutputs> out(prompts.size());
  for (int64_t b = 0; b < batch; ++b) {
    const auto len = static_cast<int64_t>(prompts[b].size());
    pad[b] = total - len;
    for (int64_t t = pad[b]; t < total; ++t) {
      ids.at({b, t}) = prompts[b][t - pad[b]];
      mask.at({b, t}) = 1;
    }
    out[b].logits = Tensor<float>({len, c.vocab_size});
    if (args.hidden_states)
      out[b].hidden_states.assign(c.n_layer + 1, Tensor<float>({len, c.n_embd}));
    if (args.attentions) out[b].attentions.assign(c.n_layer, Tensor<float>({c.n_head, len, len}));
  }

  KvCache cache = model.NewCache(
      batch, std::min<int64_t>(c.max_position_embeddings, std::max<int64_t>(total, 1)));
  for (int64_t start = 0; start < total; start += chunk) {
    const int64_t q_len = std::min(chunk, total - start);
    const int64_t kv_len = start + q_len;
    ForwardRequest req;
    req.input_ids = Tensor<int32_t>({batch, q_len});
    req.attention_mask = Tensor<uint8_t>({batch, kv_len});
    for (int64_t b = 0; b < batch; ++b) {
      std::copy_n(ids.data() + b * total + start, q_len, req.input_ids.data() + b * q_len);
      std::copy_n(mask.data() + b * total, kv_len, req.attention_mask.data() + b * kv_len);
    }
    req.output_hidden_states = args.hidden_states;
    req.output_attentions = args.attentions;
    req.allow_padding_only_rows = true;  // a short prompt's first chunks may be all padding
    req.hooks = hooks;
    const ForwardResult o = model.Forward(req, &cache);
    for (int64_t b = 0; b < batch; ++b) {
      const auto len = static_cast<int64_t>(prompts[b].size());
      for (int64_t t = std::max<int64_t>(0, pad[b] - start); t < q_len; ++t) {
        const int64_t pos = start + t - pad[b];  // index among the real tokens
        std::copy_n(o.logits.data() + (b * q_len + t) * c.vocab_size, c.vocab_size,
                    out[b].logits.data() + pos * c.vocab_size);
        for (size_t i = 0; i < o.hidden_states.size(); ++i)
          std::copy_n(o.hidden_states[i].data() + (b * q_len + t) * c.n_embd, c.n_embd,
                      out[b].hidden_states[i].data() + pos * c.n_embd);
        for (size_t l = 0; l < o.attentions.size(); ++l)
          for (int64_t h = 0; h < c.n_head; ++h)
            std::copy_n(o.attentions[l].data() + ((b * c.n_head + h) * q_len + t) * kv_len + pad[b],
                        kv_len - pad[b], out[b].attentions[l].data() + (h * len + pos) * len);
      }
    }
  }
  return out;
}

void RunForward(const ForwardArgs& args) {
  Check(!args.ids.empty(), "--ids: at least one id list is required");
  const Engine engine = MakeEngine(args.policy, args.threads);
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& text : args.ids) prompts.push_back(ParseIdList(text, "--ids"));
  const std::string input = ResolveModelPath(args.model);
  CheckForwardOutputFile(args.out, input, args.force);
  const Steering steering = LoadSteering(args.steering);

  const Model model = LoadModel(input, engine);
  const Hooks steering_hooks = steering.MakeHooks(model.config());
  const auto start = std::chrono::steady_clock::now();
  std::vector<SequenceOutputs> outputs =
      RunPrompts(model, prompts, args, steering_hooks.empty() ? nullptr : &steering_hooks);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // One prompt: plain names as in the fixture files; several: seq{b}. prefixes.
  TensorFile file;
  file.metadata = {{"format", "pt"}, {"producer", "talkie forward"}};
  for (size_t b = 0; b < outputs.size(); ++b) {
    const std::string prefix = outputs.size() == 1 ? "" : "seq" + std::to_string(b) + ".";
    SequenceOutputs& o = outputs[b];
    file.Add(prefix + "logits", std::move(o.logits));
    for (size_t i = 0; i < o.hidden_states.size(); ++i)
      file.Add(prefix + "hidden_states." + std::to_string(i), std::move(o.hidden_states[i]));
    for (size_t l = 0; l < o.attentions.size(); ++l)
      file.Add(prefix + "attentions." + std::to_string(l), std::move(o.attentions[l]));
  }
  SaveTensorFile(args.out, file);
  std::fprintf(stderr, "forward: %zu sequence(s), %.1f ms\n", prompts.size(), seconds * 1e3);
}

}  // namespace

void RegisterForwardCommand(CLI::App& app) {
  auto args = std::make_shared<ForwardArgs>();
  CLI::App* cmd = app.add_subcommand(
      "forward",
      "Run token ids through the model; write logits / hidden states / attentions to safetensors");
  cmd->add_option("-m,--model", args->model,
                  "model directory or checkpoint file (default: the bundled model)");
  cmd->add_option("--ids", args->ids, "comma-separated token ids; repeat for a left-padded batch")
      ->required()
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-o,--out", args->out, "output .safetensors file")->required();
  cmd->add_flag("--hidden-states", args->hidden_states, "also write hidden_states.{0..L}");
  cmd->add_flag("--attentions", args->attentions, "also write attentions.{l} [heads, S, S]");
  cmd->add_option("--chunk", args->chunk,
                  "prefill through the KV cache N tokens at a time (1 = token by token)")
      ->check(IntegerIn(1));
  AddThreadsOption(cmd, &args->threads);
  AddPolicyOption(cmd, &args->policy);
  cmd->add_option("--pad-id", args->pad_id, "token id used for left padding (masked)");
  cmd->add_flag("--force", args->force,
                "replace an existing --out file that is not a forward output");
  AddSteeringOptions(cmd, &args->steering);
  cmd->callback([args] { RunForward(*args); });
}

}  // namespace talkie::cli
