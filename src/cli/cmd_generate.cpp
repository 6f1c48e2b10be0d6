// `talkie generate`: continue a prompt (text or ids), streaming the text to
// stdout; several prompts (--prompts-file) run as one left-padded batch.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/prompt_input.h"
#include "talkie/error.h"
#include "talkie/generate.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

struct GenerateArgs {
  GenerationArgs gen;
  std::string prompt;
  std::string ids;
  std::string prompts_file;
  bool allow_special = false;
  bool json = false;
};

void RunGenerate(const GenerateArgs& a) {
  // Everything given is checked before the model loads or anything prints.
  std::string text = a.prompt;
  const bool from_stdin = text == "-" || (text.empty() && a.ids.empty() && a.prompts_file.empty() &&
                                          !StdinIsTerminal());
  if (from_stdin) {
    Check(a.ids.empty() && a.prompts_file.empty(),
          "give one of PROMPT, - (stdin), --ids or --prompts-file");
    text = ReadPromptFromStdin();
    Check(!text.empty(), "empty prompt on stdin");
  }
  const int sources = !text.empty() + !a.ids.empty() + !a.prompts_file.empty();
  Check(sources <= 1, "give one of PROMPT, --ids or --prompts-file");
  Check(sources == 1,
        "empty prompt: give PROMPT text, - (stdin), --ids 1,2,3 or --prompts-file FILE");
  GenerateOptions config = MakeGenerateOptions(a.gen);
  std::vector<std::vector<int32_t>> prompts;
  if (!a.ids.empty()) prompts.push_back(ParseIdList(a.ids, "--ids"));
  const std::vector<std::string> file_prompts =
      a.prompts_file.empty() ? std::vector<std::string>{} : ReadPromptsFile(a.prompts_file);
  const LoadedModel m = LoadModelAndTokenizer(a.gen);
  AttachToModel(a.gen, m, &config);

  if (!text.empty()) prompts.push_back(m.tokenizer->Encode(text, a.allow_special));
  for (size_t i = 0; i < file_prompts.size(); ++i) {
    prompts.push_back(m.tokenizer->Encode(file_prompts[i], a.allow_special));
    Check(!prompts.back().empty(), a.prompts_file + ":" + std::to_string(i + 1) + ": empty prompt");
  }
  for (size_t i = 0; i < prompts.size(); ++i)
    Check(!prompts[i].empty(), "empty prompt: it encodes to no tokens");

  Generator generator(*m.model, *m.tokenizer);
  GenerationStats stats;
  const bool stream = !a.json && prompts.size() == 1;
  // The prompt is echoed with the first generated text, i.e. only once the
  // generator has accepted it (a prompt over the context limit is an error
  // and must not be printed first).
  bool echoed = false;
  auto echo = [&] {
    if (!echoed && !text.empty()) std::fwrite(text.data(), 1, text.size(), stdout);
    echoed = true;
  };
  StreamCallback on_text;
  if (stream) {
    on_text = [&](size_t, std::string_view piece) {
      echo();
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  const auto results = generator.Run(prompts, {config}, on_text, {}, &stats);
  const double tok_s = stats.decode_seconds > 0
                           ? static_cast<double>(stats.generated_tokens) / stats.decode_seconds
                           : 0.0;
  for (size_t i = 0; i < results.size(); ++i) {
    const Generation& r = results[i];
    if (a.json) {
      nlohmann::json j = {{"ids", r.tokens},
                          {"text", ReplaceInvalidUtf8(r.text)},
                          {"finish_reason", FinishReasonName(r.finish)},
                          {"prompt_tokens", r.prompt_tokens},
                          {"tokens_per_second", tok_s},
                          {"threads", m.model->engine().threads()},
                          {"seed", config.sampling.seed}};
      if (prompts.size() > 1) j["index"] = i;
      std::printf("%s\n", j.dump().c_str());
    } else if (!stream) {
      std::printf("--- [%zu] (%s)\n%s\n", i, FinishReasonName(r.finish), r.text.c_str());
    }
  }
  if (stream) {
    echo();
    std::printf("\n");
  }
  std::fflush(stdout);
  if (!a.gen.quiet) {
    PrintSpeed(stats);
    std::fprintf(stderr, "[seed %llu, finish: %s]\n",
                 static_cast<unsigned long long>(config.sampling.seed),
                 FinishReasonName(results[0].finish));
  }
}

}  // namespace

void RegisterGenerateCommand(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd =
      app.add_subcommand("generate", "Continue a prompt with the model, streaming text to stdout");
  cmd->add_option("prompt", a->prompt,
                  "prompt text; - (or none, with stdin not a terminal): read it from stdin");
  cmd->add_option("--ids", a->ids, "prompt as comma-separated token ids");
  cmd->add_option("--prompts-file", a->prompts_file, "one prompt per line, generated as one batch");
  cmd->add_flag("--allow-special", a->allow_special,
                "turn special-token text in the prompt into its ids");
  cmd->add_flag("--json", a->json,
                "print {ids, text, finish_reason, prompt_tokens, tokens_per_second} per prompt");
  AddGenerationOptions(cmd, &a->gen);
  cmd->callback([a] { RunGenerate(*a); });
}

}  // namespace talkie::cli
