// `talkie tokenize` and `talkie detokenize`: text <-> ids with Talkie's
// tokenizer, one-shot or as a JSON-lines filter on stdin/stdout.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/default_threads.h"
#include "cli/generation_options.h"
#include "cli/prompt_input.h"
#include "talkie/error.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

struct TokenizerOptions {
  std::string path;
  std::string model;
  std::string style;
  int threads = 0;  // accepted like every command's; tokenizing is one thread
};

void AddTokenizerOptions(CLI::App* cmd, TokenizerOptions* opts) {
  cmd->add_option(
      "--tokenizer", opts->path,
      "vocab.txt, tokenizer.json, a .gguf, or a model directory holding one (default: the "
      "model's)");
  cmd->add_option("-m,--model", opts->model,
                  "model whose tokenizer to use (default: the bundled model)");
  cmd->add_option("--style", opts->style, "special-token set: base or it (default: from the model)")
      ->check(CLI::IsMember({"base", "it"}));
  AddThreadsOption(cmd, &opts->threads);
}

Tokenizer LoadTokenizer(const TokenizerOptions& opts) {
  const std::string& style = opts.style;
  ResolveThreads(opts.threads);  // checked like every command's
  if (!opts.path.empty()) return Tokenizer::Load(opts.path, style);
  // The model's folder holds its vocabulary (and the config naming its size);
  // a GGUF model file carries its own.
  const std::filesystem::path model = ResolveModelPath(opts.model);
  std::error_code ec;
  if (model.extension() == ".gguf" && !std::filesystem::is_directory(model, ec))
    return Tokenizer::Load(model.string(), style);
  const std::filesystem::path dir = std::filesystem::is_directory(model, ec) ? model
                                    : model.parent_path().empty() ? std::filesystem::path(".")
                                                                  : model.parent_path();
  return Tokenizer::Load(dir.string(), style);
}

void WriteBytes(const std::string& bytes) { std::fwrite(bytes.data(), 1, bytes.size(), stdout); }

// Parses a JSON-lines input line; Error naming the line on failure.
nlohmann::json ParseLine(const std::string& line, int64_t line_no) {
  nlohmann::json doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  Check(doc.is_object(), "stdin line " + std::to_string(line_no) + ": not a JSON object");
  return doc;
}

// "1,2,3" (spaces allowed; an empty or blank list is no ids).

}  // namespace

void RegisterTokenizeCommands(CLI::App& app) {
  // Options outlive parsing: the callbacks run after app.parse fills them.
  auto opts = std::make_shared<TokenizerOptions>();
  auto text = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  auto allow_special = std::make_shared<bool>(false);
  auto jsonl = std::make_shared<bool>(false);

  CLI::App* tokenize = app.add_subcommand("tokenize", "encode text to token ids");
  AddTokenizerOptions(tokenize, opts.get());
  tokenize->add_flag("--allow-special", *allow_special,
                     "encode special-token strings as their ids (default: as text)");
  auto* text_opt = tokenize->add_option("--text", *text, "text to encode");
  auto* file_opt = tokenize->add_option("--file", *file, "file whose bytes to encode");
  auto* jsonl_opt =
      tokenize->add_flag("--jsonl", *jsonl, "read {\"text\": ...} lines, write {\"ids\": [...]}");
  text_opt->excludes(file_opt)->excludes(jsonl_opt);
  file_opt->excludes(jsonl_opt);
  tokenize->callback([=] {
    Check(text_opt->count() + file_opt->count() + jsonl_opt->count() == 1,
          "tokenize: give exactly one of --text, --file, --jsonl");
    const Tokenizer tokenizer = LoadTokenizer(*opts);
    if (!*jsonl) {
      const std::string input = file_opt->count() ? ReadFileBytes(*file) : *text;
      std::cout << nlohmann::json(tokenizer.Encode(input, *allow_special)).dump() << "\n";
      return;
    }
    std::string line;
    for (int64_t line_no = 1; std::getline(std::cin, line); ++line_no) {
      if (line.empty()) continue;
      const nlohmann::json doc = ParseLine(line, line_no);
      Check(doc.contains("text") && doc["text"].is_string(),
            "stdin line " + std::to_string(line_no) + ": no string \"text\"");
      nlohmann::json out;
      out["ids"] = tokenizer.Encode(doc["text"].get<std::string>(), *allow_special);
      std::cout << out.dump() << "\n";
    }
  });

  auto dopts = std::make_shared<TokenizerOptions>();
  auto ids = std::make_shared<std::string>();
  auto djsonl = std::make_shared<bool>(false);
  CLI::App* detokenize = app.add_subcommand("detokenize", "decode token ids to bytes");
  AddTokenizerOptions(detokenize, dopts.get());
  auto* ids_opt = detokenize->add_option("--ids", *ids, "comma-separated ids, e.g. 1,2,3");
  auto* djsonl_opt = detokenize->add_flag("--jsonl", *djsonl,
                                          "read {\"ids\": [...]} lines, write {\"text\": ...}");
  ids_opt->excludes(djsonl_opt);
  detokenize->callback([=] {
    Check(ids_opt->count() + djsonl_opt->count() == 1,
          "detokenize: give exactly one of --ids, --jsonl");
    const Tokenizer tokenizer = LoadTokenizer(*dopts);
    if (!*djsonl) {
      WriteBytes(tokenizer.Decode(ParseIdList(*ids, "--ids", /*allow_empty=*/true)));
      return;
    }
    std::string line;
    for (int64_t line_no = 1; std::getline(std::cin, line); ++line_no) {
      if (line.empty()) continue;
      const nlohmann::json doc = ParseLine(line, line_no);
      const std::string where = "stdin line " + std::to_string(line_no) + ": ";
      Check(doc.contains("ids") && doc["ids"].is_array(), where + "no \"ids\" array");
      std::vector<int32_t> list;
      for (const auto& v : doc["ids"]) {
        Check(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX,
              where + "ids must be non-negative integers");
        list.push_back(static_cast<int32_t>(v.get<int64_t>()));
      }
      nlohmann::json out;
      out["text"] = ReplaceInvalidUtf8(tokenizer.Decode(list));
      std::cout << out.dump() << "\n";
    }
  });
}

}  // namespace talkie::cli
