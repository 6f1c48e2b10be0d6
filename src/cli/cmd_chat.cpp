// `talkie chat`: an interactive multi-turn conversation. Each input line is a
// user message; the reply streams as it is generated. Ctrl-C stops the current
// reply (the conversation goes on) or drops the line being typed, Ctrl-D
// quits, /reset forgets the history, /help lists this. On a terminal lines
// are edited with libedit (cli/line_reader.h).
// IT models get the chat template of spec §4; base models get the raw text.
#include <csignal>
#include <cstdio>
#include <limits>

#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/line_reader.h"
#include "talkie/error.h"
#include "talkie/generate.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) { g_interrupted = 1; }

constexpr const char* kHelp =
    "Ctrl-C stops a reply, Ctrl-D (or /quit) quits, /reset clears the conversation, /help shows "
    "this.";

struct ChatArgs {
  GenerationArgs gen;
  std::string system;
  bool no_prompt_cache = false;
};

std::vector<int32_t> EncodeConversation(const Tokenizer& tok,
                                        const std::vector<ChatMessage>& messages) {
  if (tok.is_chat()) return tok.EncodeChat(messages);
  std::string text;  // base model: the conversation as plain text
  for (const auto& m : messages) text += m.content + "\n";
  return tok.Encode(text, /*allow_special=*/false);
}

void RunChat(const ChatArgs& a) {
  GenerateOptions config = MakeGenerateOptions(a.gen);
  const LoadedModel m = LoadModelAndTokenizer(a.gen);
  AttachToModel(a.gen, m, &config);
  Generator generator(*m.model, *m.tokenizer);
  // The conversation's KV cache stays from turn to turn: each turn feeds
  // only its new tokens (the one entry is the previous turn's sequence).
  PromptCache turns(std::numeric_limits<int64_t>::max(), a.no_prompt_cache ? 0 : 1);
  generator.set_prompt_cache(&turns);
  const bool it = m.tokenizer->is_chat();

  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  action.sa_flags = SA_RESTART;  // an interrupted read of the next line just goes on
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);

  std::vector<ChatMessage> history;
  if (!a.system.empty()) history.push_back({"system", a.system});
  // Piped input (a script, a test) gets replies only: no banner, no prompts.
  LineReader reader(&g_interrupted);
  const bool interactive = reader.interactive();
  if (interactive) std::fprintf(stderr, "talkie chat (%s model). %s\n", it ? "IT" : "base", kHelp);
  while (true) {
    g_interrupted = 0;  // the Ctrl-C that stopped the last reply is spent
    const std::optional<std::string> next = reader.Read("> ");
    if (!next) break;
    g_interrupted = 0;  // a Ctrl-C at the prompt must not stop the next reply
    const std::string& line = *next;
    if (line == "/help") {
      std::fprintf(stderr, "%s\n", kHelp);
      continue;
    }
    if (line == "/reset") {
      history.resize(a.system.empty() ? 0 : 1);
      turns.Clear();
      std::fprintf(stderr, "[conversation cleared%s]\n",
                   a.system.empty() ? "" : "; system message kept");
      continue;
    }
    if (line == "/quit" || line == "/exit") break;
    if (line.empty()) continue;
    history.push_back({"user", line});
    std::vector<int32_t> prompt;
    try {
      prompt = EncodeConversation(*m.tokenizer, history);
    } catch (const Error& e) {
      std::fprintf(stderr, "talkie: error: %s\n", e.what());
      history.pop_back();
      continue;
    }
    if (static_cast<int64_t>(prompt.size()) >= m.model->config().max_position_embeddings) {
      std::fprintf(stderr,
                   "talkie: the conversation no longer fits the context; /reset to start over\n");
      history.pop_back();
      continue;
    }
    GenerationStats stats;
    const auto result = generator.Run(
        {prompt}, {config},
        [](size_t, std::string_view piece) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
          return g_interrupted == 0;
        },
        {}, &stats)[0];
    std::printf("\n");
    if (result.finish == FinishReason::kCancelled) std::fprintf(stderr, "[stopped]\n");
    if (!a.gen.quiet) PrintSpeed(stats);
    history.push_back({"assistant", result.text});
  }
  if (interactive) std::printf("\n");
}

}  // namespace

void RegisterChatCommand(CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive multi-turn chat with streaming replies");
  cmd->add_option("--system", a->system, "system message opening the conversation");
  cmd->add_flag("--no-prompt-cache", a->no_prompt_cache,
                "re-feed the whole conversation every turn instead of keeping its KV cache "
                "(same replies, slower)");
  AddGenerationOptions(cmd, &a->gen);
  cmd->callback([a] { RunChat(*a); });
}

}  // namespace talkie::cli
