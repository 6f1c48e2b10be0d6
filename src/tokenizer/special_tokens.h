// Talkie's special tokens and the rule that numbers them: with R ranks
// (highest rank + 1), <|endoftext|> = R and the IT set continues with
// <|end|> = R+1, <|user|> = R+2, <|assistant|> = R+3, <|system|> = R+4.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace talkie::tokenizer {

inline constexpr std::string_view kEndOfText = "<|endoftext|>";
inline constexpr std::string_view kEnd = "<|end|>";
inline constexpr std::string_view kUser = "<|user|>";
inline constexpr std::string_view kAssistant = "<|assistant|>";
inline constexpr std::string_view kSystem = "<|system|>";

// Base models know only <|endoftext|>; instruction-tuned (IT) models add the
// four chat markers.
enum class Style { kBase, kIt };

struct SpecialToken {
  std::string text;
  int32_t id;
};

// "base" or "it"; anything else is an Error naming the value.
Style ParseStyle(std::string_view name);
std::string_view StyleName(Style style);

// The special tokens of `style`, in id order, for a vocabulary of n_ranks.
std::vector<SpecialToken> SpecialTokensFor(Style style, int32_t n_ranks);
// Number of special tokens of `style` (1 or 5).
int32_t NumSpecialTokens(Style style);

// The style whose vocabulary size (n_ranks + its special tokens) equals the
// model's embedding rows; any other size is an Error.
Style StyleForVocabSize(int64_t model_vocab, int64_t n_ranks);

}  // namespace talkie::tokenizer
