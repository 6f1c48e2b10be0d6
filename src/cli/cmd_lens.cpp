// `talkie lens`: the logit lens. For each layer, the top-K next tokens that
// the final norm and lm_head read off that layer's residual stream, at the
// last position (or every one with --all); as a table, JSON, and a PNG heat
// map of the top-1 probabilities over layers x positions (--png).
#include <cstdio>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/generation_options.h"
#include "cli/lens_heatmap.h"
#include "cli/logit_lens.h"
#include "cli/output_guard.h"
#include "cli/png_writer.h"
#include "cli/prompt_input.h"
#include "cli/token_display.h"
#include "cli/validators.h"
#include "talkie/atomic_file.h"
#include "talkie/engine.h"
#include "talkie/error.h"
#include "talkie/model.h"
#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

// The heat map is 80 px per position: a longer prompt makes an unwieldy image.
constexpr int64_t kMaxPngPositions = 1024;

struct LensArgs {
  std::string model;
  std::string prompt;
  std::string ids;
  bool allow_special = false;
  int64_t top = 5;
  bool all = false;
  bool json = false;
  std::string png;
  bool png_given = false;  // --png '' is an error, not "no picture"
  bool force = false;
  int threads = 0;
  std::string policy = "exact";
};

// Code points of valid UTF-8 text (for column alignment).
size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string Padded(const std::string& s, size_t width) {
  const size_t w = DisplayWidth(s);
  return w >= width ? s : s + std::string(width - w, ' ');
}

std::string Quoted(const Tokenizer& tok, int32_t id) {
  return "\"" + EscapeTokenText(tok.TokenBytes(id)) + "\"";
}

void PrintTable(const LensResult& r, const std::vector<size_t>& shown,
                const std::vector<int32_t>& ids, const Tokenizer& tok, int64_t top_k) {
  constexpr size_t kTokenWidth = 14;
  for (size_t n = 0; n < shown.size(); ++n) {
    const size_t i = shown[n];
    const int64_t p = r.positions[i];
    if (n) std::printf("\n");
    std::printf("position %lld %s (id %d): next-token top %lld per layer\n",
                static_cast<long long>(p), Quoted(tok, ids[static_cast<size_t>(p)]).c_str(),
                ids[static_cast<size_t>(p)], static_cast<long long>(top_k));
    std::string header = "layer";
    for (int64_t k = 0; k < top_k; ++k)
      header += "  " + Padded("#" + std::to_string(k + 1), kTokenWidth + 7);
    while (!header.empty() && header.back() == ' ') header.pop_back();
    std::printf("%s\n", header.c_str());
    for (int64_t l = 0; l < r.n_layer; ++l) {
      std::string line = std::to_string(l);
      line = std::string(5 - std::min<size_t>(5, line.size()), ' ') + line;
      for (const LensCandidate& c : r.top[static_cast<size_t>(l)][i]) {
        char prob[16];
        std::snprintf(prob, sizeof prob, "%.4f", c.probability);
        line += "  " + Padded(Quoted(tok, c.id), kTokenWidth) + " " + prob;
      }
      std::printf("%s\n", line.c_str());
    }
  }
}

nlohmann::json ToJson(const LensResult& r, const std::vector<size_t>& shown,
                      const std::vector<int32_t>& ids, const Tokenizer& tok, const Model& model,
                      int64_t top_k) {
  auto text = [&](int32_t id) { return ReplaceInvalidUtf8(tok.TokenBytes(id)); };
  nlohmann::json tokens = nlohmann::json::array();
  for (int32_t id : ids) tokens.push_back(text(id));
  nlohmann::json positions = nlohmann::json::array();
  for (size_t i : shown) {
    const int64_t p = r.positions[i];
    nlohmann::json layers = nlohmann::json::array();
    for (int64_t l = 0; l < r.n_layer; ++l) {
      nlohmann::json top = nlohmann::json::array();
      for (const LensCandidate& c : r.top[static_cast<size_t>(l)][i])
        top.push_back(
            {{"id", c.id}, {"token", text(c.id)}, {"logit", c.logit}, {"prob", c.probability}});
      layers.push_back({{"layer", l}, {"top", std::move(top)}});
    }
    positions.push_back({{"position", p},
                         {"id", ids[static_cast<size_t>(p)]},
                         {"token", text(ids[static_cast<size_t>(p)])},
                         {"layers", std::move(layers)}});
  }
  return {{"model", model.info().path},
          {"n_layer", r.n_layer},
          {"vocab_size", model.config().vocab_size},
          {"top_k", top_k},
          {"prob_dtype", "float64"},
          {"ids", ids},
          {"tokens", std::move(tokens)},
          {"positions", std::move(positions)}};
}

void WriteHeatmap(AtomicFile& file, const std::string& path, const LensResult& r,
                  const std::vector<int32_t>& ids, const Tokenizer& tok) {
  HeatmapInput in;
  for (int32_t id : ids) in.position_tokens.push_back(tok.TokenBytes(id));
  for (int64_t l = 0; l < r.n_layer; ++l) {
    std::vector<double> probs;
    std::vector<std::string> texts;
    for (const auto& cell : r.top[static_cast<size_t>(l)]) {
      probs.push_back(cell.front().probability);
      texts.push_back(tok.TokenBytes(cell.front().id));
    }
    in.top1_prob.push_back(std::move(probs));
    in.top1.push_back(std::move(texts));
  }
  const RgbImage image = DrawLensHeatmap(in);
  file.Write(EncodePng(image));
  file.Commit();
  std::fprintf(stderr, "lens: wrote %s (%lld x %lld)\n", path.c_str(),
               static_cast<long long>(image.width), static_cast<long long>(image.height));
}

void RunLens(const LensArgs& a) {
  // Everything given is checked before the model loads or anything prints.
  Check(a.top >= 1, "--top must be >= 1, got " + std::to_string(a.top));
  std::string text = a.prompt;
  if (text == "-") {
    Check(a.ids.empty(), "give one of PROMPT, - (stdin) or --ids");
    text = ReadPromptFromStdin();
    Check(!text.empty(), "empty prompt on stdin");
  }
  Check(text.empty() || a.ids.empty(), "give one of PROMPT, - (stdin) or --ids");
  Check(!text.empty() || !a.ids.empty(),
        "empty prompt: give PROMPT text, - (stdin) or --ids 1,2,3");
  std::vector<int32_t> ids;
  if (!a.ids.empty()) ids = ParseIdList(a.ids, "--ids");
  const Engine engine = MakeEngine(a.policy, a.threads);
  const std::string model_path = ResolveModelPath(a.model);
  // The PNG's temporary file is made now, so an unwritable place is an error
  // before any work (it is removed again if the command fails).
  std::optional<AtomicFile> png_file;
  if (a.png_given) {
    CheckPlainOutputFile(a.png, "--png", model_path, a.force);
    try {
      png_file.emplace(a.png);
    } catch (const Error& e) {
      throw Error(std::string("--png ") + e.what());
    }
  }

  const Model model = Model::Load(model_path, engine);
  const Tokenizer tok = Tokenizer::ForModel(model);
  const ModelConfig& c = model.config();
  Check(a.top <= c.vocab_size, "--top must be in [1, " + std::to_string(c.vocab_size) +
                                   "] (the vocabulary size), got " + std::to_string(a.top));
  if (!text.empty()) ids = tok.Encode(text, a.allow_special);
  Check(!ids.empty(), "empty prompt: it encodes to no tokens");
  for (int32_t id : ids)
    Check(id < c.vocab_size, "--ids: token id " + std::to_string(id) +
                                 " is outside the vocabulary [0, " + std::to_string(c.vocab_size) +
                                 ")");
  const auto len = static_cast<int64_t>(ids.size());
  Check(!a.png_given || len <= kMaxPngPositions,
        "--png draws at most " + std::to_string(kMaxPngPositions) + " positions; the prompt has " +
            std::to_string(len) + " tokens");

  // The heat map needs every position; the table and JSON show the last
  // one unless --all.
  std::vector<int64_t> positions;
  if (a.all || a.png_given)
    for (int64_t p = 0; p < len; ++p) positions.push_back(p);
  else
    positions.push_back(len - 1);
  const LensResult r = RunLogitLens(model, ids, positions, a.top);
  std::vector<size_t> shown;
  if (a.all)
    for (size_t i = 0; i < positions.size(); ++i) shown.push_back(i);
  else
    shown.push_back(positions.size() - 1);

  if (a.json)
    std::printf("%s\n", ToJson(r, shown, ids, tok, model, a.top).dump().c_str());
  else
    PrintTable(r, shown, ids, tok, a.top);
  std::fflush(stdout);
  if (png_file) WriteHeatmap(*png_file, a.png, r, ids, tok);
}

}  // namespace

void RegisterLensCommand(CLI::App& app) {
  auto a = std::make_shared<LensArgs>();
  CLI::App* cmd = app.add_subcommand(
      "lens", "Logit lens: each layer's top next tokens (table / JSON), and a PNG heat map");
  cmd->add_option("prompt", a->prompt, "prompt text; - reads it from stdin");
  cmd->add_option("--ids", a->ids, "prompt as comma-separated token ids");
  cmd->add_option("-m,--model", a->model,
                  "model directory or checkpoint file (default: the bundled model)");
  cmd->add_flag("--allow-special", a->allow_special,
                "turn special-token text in the prompt into its ids");
  cmd->add_option("--top", a->top, "tokens per layer, 1..vocab (default 5)")
      ->check(IntegerIn(std::numeric_limits<int64_t>::min()));
  cmd->add_flag("--all", a->all, "every position, not only the last");
  cmd->add_flag("--json", a->json, "print JSON instead of the table");
  CLI::Option* png = cmd->add_option(
      "--png", a->png, "also draw the layer x position heat map of top-1 probabilities to FILE");
  cmd->add_flag("--force", a->force, "replace an existing --png file");
  AddThreadsOption(cmd, &a->threads);
  AddPolicyOption(cmd, &a->policy);
  cmd->callback([a, png] {
    a->png_given = png->count() > 0;
    RunLens(*a);
  });
}

}  // namespace talkie::cli
