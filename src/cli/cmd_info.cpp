// `talkie info`: what was loaded (layout, config, parameters, dtypes, files)
// and which kernels run it on this CPU.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "talkie/engine.h"
#include "talkie/error.h"
#include "talkie/model.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

struct InfoArgs {
  std::string model;
  int threads = 0;
};

// A GGUF file may carry a chat template (tokenizer.chat_template); chat
// always follows spec §4's, so say whether the file's is that one.
void PrintGgufChatTemplate(const Model& model) {
  std::string what;
  try {
    const Tokenizer tok = Tokenizer::ForModel(model);
    what = tok.file_chat_template().empty() ? "none in the file"
           : tok.file_chat_template_is_talkies()
               ? "Talkie's IT template (spec §4)"
               : "the file's own, not Talkie's IT template (talkie "
                 "chat and serve use spec §4's)";
  } catch (const Error& e) {
    what = std::string("no tokenizer (") + e.what() + ")";
  }
  std::printf("chat template:      %s\n", what.c_str());
}

void RunInfo(const InfoArgs& args) {
  const Engine engine = MakeEngine("exact", args.threads);  // loading checks in parallel
  const Model model = LoadModel(args.model, engine);
  const ModelInfo& info = model.info();
  const ModelConfig& c = model.config();
  std::printf("path:               %s\n", info.path.c_str());
  std::printf("checkpoint format:  %s\n", info.checkpoint_format.c_str());
  std::printf("name layout:        %s%s\n", info.name_layout.c_str(),
              info.orig_mod_prefix ? " (torch.compile '_orig_mod.' prefixes)" : "");
  std::printf("lm_head gain:       %s\n", info.lm_head_gain_present
                                              ? "lm_head_gain.w_g"
                                              : "absent (folded into lm_head; taken as 1)");
  std::printf("config:             %s (%s keys)\n", info.config_source.c_str(),
              info.config_keys.c_str());
  std::printf("vocab_size:         %lld\n", static_cast<long long>(c.vocab_size));
  std::printf("hidden_size:        %lld\n", static_cast<long long>(c.n_embd));
  std::printf("layers:             %lld\n", static_cast<long long>(c.n_layer));
  std::printf("heads x head_dim:   %lld x %lld\n", static_cast<long long>(c.n_head),
              static_cast<long long>(c.head_dim));
  std::printf("intermediate_size:  %lld\n", static_cast<long long>(c.intermediate_size));
  std::printf("context:            %lld\n", static_cast<long long>(c.max_position_embeddings));
  std::printf("rope_theta:         %g\n", c.rope_theta);
  std::printf("parameters:         %lld (%.3f M)\n", static_cast<long long>(info.n_parameters),
              static_cast<double>(info.n_parameters) / 1e6);
  std::printf("quantization:       %s\n", info.quantization.c_str());
  if (!info.gguf_types.empty()) std::printf("GGUF tensor types:  %s\n", info.gguf_types.c_str());
  if (info.checkpoint_format == "gguf") PrintGgufChatTemplate(model);
  std::printf("tensor dtypes:     ");
  for (const auto& [dtype, count] : info.dtype_tensor_counts)
    std::printf(" %s x %lld", dtype.c_str(), static_cast<long long>(count));
  std::printf("\nfiles:              %zu, %.2f MB\n", info.files.size(),
              static_cast<double>(info.file_bytes) / 1e6);
  for (const std::string& f : info.files) std::printf("  %s\n", f.c_str());
  if (!info.unknown_tensors.empty()) {
    std::printf("unknown tensors (not used): %zu\n", info.unknown_tensors.size());
    for (const std::string& name : info.unknown_tensors) std::printf("  %s\n", name.c_str());
  }
  const KernelReport k = Kernels(engine);
  std::string int8_paths;
  for (const std::string& p : k.int8_paths) int8_paths += " " + p;
  std::printf("kernels, exact:     %s\n", k.exact.c_str());
  std::printf("kernels, fast:      q8/q4 %s, bf16 %s (q8/q4 paths here:%s)\n", k.fast_int8.c_str(),
              k.fast_bf16.c_str(), int8_paths.c_str());
  std::printf(
      "kernels, GGUF:      exact ggml blocks %s; fast Q4_K/Q5_0/Q6_K %s, other blocks exact\n",
      k.exact.c_str(), k.fast_ggml.c_str());
  if (!k.simd_cap.empty()) std::printf("SIMD cap:           TALKIE_SIMD=%s\n", k.simd_cap.c_str());
}

}  // namespace

void RegisterInfoCommand(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "info", "Describe a checkpoint: layout, config, parameters, dtypes, files");
  cmd->add_option("-m,--model", args->model,
                  "model directory or checkpoint file (default: the bundled model)");
  AddThreadsOption(cmd, &args->threads);
  cmd->callback([args] { RunInfo(*args); });
}

}  // namespace talkie::cli
