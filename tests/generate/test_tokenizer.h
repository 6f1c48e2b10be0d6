// A tokenizer sized for a fixture model (whose vocab has no real tokenizer):
// the 256 byte tokens, a few words and marker pieces the tests force, and
// filler tokens up to the base-style rank count (model vocab - 1), so that
// <|endoftext|> = vocab - 1.
#pragma once

#include "tokenizer/tokenizer.h"

namespace talkie::testing {

inline const std::vector<std::string>& ExtraTokens() {
  static const std::vector<std::string> tokens = {"<|", "user", "|>",       "Hello", " world",
                                                  "ST", "OP",   "\xE2\x82", "\xAC"};
  return tokens;
}

// Id of one of ExtraTokens().
inline int32_t ExtraId(const std::string& text) {
  for (size_t i = 0; i < ExtraTokens().size(); ++i)
    if (ExtraTokens()[i] == text) return static_cast<int32_t>(256 + i);
  return -1;
}

inline tokenizer::Tokenizer TokenizerForVocab(int64_t model_vocab) {
  tokenizer::Vocab vocab;
  for (int b = 0; b < 256; ++b) vocab.tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const std::string& t : ExtraTokens()) vocab.tokens.push_back(t);
  for (int64_t i = static_cast<int64_t>(vocab.tokens.size()); i < model_vocab - 1; ++i)
    vocab.tokens.push_back(" w" + std::to_string(i));
  const auto ranks = static_cast<int32_t>(vocab.tokens.size());
  return tokenizer::Tokenizer(std::move(vocab),
                              tokenizer::SpecialTokensFor(tokenizer::Style::kBase, ranks),
                              tokenizer::Style::kBase);
}

}  // namespace talkie::testing
