// `talkie forward`: run prompts of token ids and write logits, hidden states
// and attention maps to a safetensors file (the fixture case-file layout), so
// researchers can pull activations and anyone can check the engine's
// invariance guarantees by comparing output files byte for byte.
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
  PromptRunOptions options;
  options.chunk = args.chunk;
  options.output_hidden_states = args.hidden_states;
  options.output_attentions = args.attentions;
  options.pad_id = args.pad_id;
  if (!steering_hooks.empty()) options.hooks = &steering_hooks;
  std::vector<PromptOutputs> outputs = model.ForwardPrompts(prompts, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // One prompt: plain names as in the fixture files; several: seq{b}. prefixes.
  TensorFile file;
  file.metadata = {{"format", "pt"}, {"producer", "talkie forward"}};
  for (size_t b = 0; b < outputs.size(); ++b) {
    const std::string prefix = outputs.size() == 1 ? "" : "seq" + std::to_string(b) + ".";
    PromptOutputs& o = outputs[b];
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
