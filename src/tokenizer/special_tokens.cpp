// Special-token sets and the vocabulary-size rule that picks one.
#include "tokenizer/special_tokens.h"

#include "common/error.h"

namespace talkie::tokenizer {

Style ParseStyle(std::string_view name) {
  if (name == "base") return Style::kBase;
  if (name == "it") return Style::kIt;
  throw Error("tokenizer: unknown style '" + std::string(name) + "' (expected base or it)");
}

std::string_view StyleName(Style style) { return style == Style::kBase ? "base" : "it"; }

int32_t NumSpecialTokens(Style style) { return style == Style::kBase ? 1 : 5; }

std::vector<SpecialToken> SpecialTokensFor(Style style, int32_t n_ranks) {
  std::vector<SpecialToken> tokens = {{std::string(kEndOfText), n_ranks}};
  if (style == Style::kIt) {
    tokens.push_back({std::string(kEnd), n_ranks + 1});
    tokens.push_back({std::string(kUser), n_ranks + 2});
    tokens.push_back({std::string(kAssistant), n_ranks + 3});
    tokens.push_back({std::string(kSystem), n_ranks + 4});
  }
  return tokens;
}

Style StyleForVocabSize(int64_t model_vocab, int64_t n_ranks) {
  if (model_vocab == n_ranks + NumSpecialTokens(Style::kBase)) return Style::kBase;
  if (model_vocab == n_ranks + NumSpecialTokens(Style::kIt)) return Style::kIt;
  throw Error("tokenizer: model vocab size " + std::to_string(model_vocab) +
              " fits neither the base (" + std::to_string(n_ranks + 1) + ") nor the it (" +
              std::to_string(n_ranks + 5) + ") tokenizer of " + std::to_string(n_ranks) + " ranks");
}

}  // namespace talkie::tokenizer
