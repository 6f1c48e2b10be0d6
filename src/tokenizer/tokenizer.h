// talkie::tokenizer::Tokenizer: Talkie's tiktoken-compatible BPE tokenizer.
// Encoding splits out allowed special tokens (leftmost match), pre-tokenizes
// each stretch between them, and maps each piece to ranks (whole-piece
// lookup, else byte-pair merge). Decoding concatenates token bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/rank_map.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/vocab.h"

namespace talkie::tokenizer {

class Tokenizer {
 public:
  // A vocabulary plus its special tokens (ids must not collide with ranks).
  Tokenizer(Vocab vocab, std::vector<SpecialToken> specials, Style style);

  // vocab.txt with the special tokens of `style` numbered after the ranks.
  static Tokenizer FromVocabTxt(const std::string& path, Style style);
  // tokenizer.json; its added_tokens give the special ids. With a style,
  // only that style's special tokens are kept; without one the style is
  // inferred (it when <|user|> is among the added tokens).
  static Tokenizer FromTokenizerJson(const std::string& path, std::optional<Style> style);
  // The tokenizer.ggml.* metadata of a GGUF file (a model or vocab-only
  // file, as llama.cpp's converter writes Talkie's); style as for
  // tokenizer.json.
  static Tokenizer FromGguf(const std::string& path, std::optional<Style> style);
  // `path` is a vocab.txt, a tokenizer.json, a .gguf file, or a model
  // directory holding one of them (vocab.txt preferred, a .gguf only when it
  // is the folder's only one). The style is `style` if given, else
  // derived from `model_vocab` (the model's embedding rows) if given, else
  // from a config.json "vocab_size" next to the tokenizer, else base.
  static Tokenizer FromPath(const std::string& path, std::optional<Style> style = std::nullopt,
                            std::optional<int64_t> model_vocab = std::nullopt);

  // Ids of `text` (valid UTF-8, else an Error naming the byte offset). With
  // allow_special, special-token strings become their ids; otherwise they
  // are encoded as ordinary text.
  std::vector<int32_t> Encode(std::string_view text, bool allow_special) const;
  // Ranks of one pre-tokenized piece, appended to *out.
  void EncodePiece(std::string_view piece, std::vector<int32_t>* out) const;

  // Concatenated bytes of the ids (special tokens give their text); an
  // unknown id is an Error naming it. Not necessarily valid UTF-8.
  std::string Decode(std::span<const int32_t> ids) const;
  std::string_view TokenBytes(int32_t id) const;

  // Id of a special token's text, if it is one of this tokenizer's.
  std::optional<int32_t> SpecialTokenId(std::string_view text) const;
  const std::vector<SpecialToken>& special_tokens() const { return specials_; }

  Style style() const { return style_; }
  // R: highest rank + 1.
  int32_t num_ranks() const { return ranks_.size(); }
  // Highest id + 1 (the model's vocab size).
  int64_t vocab_size() const;
  const Pretokenizer& pretokenizer() const { return pretokenizer_; }
  const RankMap& ranks() const { return ranks_; }
  // The chat template a GGUF file carries (tokenizer.chat_template, a Jinja
  // text), "" for other sources. Encoding never uses it: chat follows spec §4.
  const std::string& file_chat_template() const { return file_chat_template_; }

 private:
  void EncodeOrdinary(std::string_view text, std::vector<int32_t>* out) const;
  // A vocabulary whose special ids come with it (tokenizer.json, GGUF):
  // keeps those of `style`, inferred (it when <|user|> is there) if unset.
  static Tokenizer FromAddedTokens(Vocab vocab, std::optional<Style> style);

  RankMap ranks_;
  std::vector<SpecialToken> specials_;
  Style style_;
  uint64_t id_;  // Tags this tokenizer's entries in the per-thread PieceCache.
  Pretokenizer pretokenizer_;
  std::string file_chat_template_;
};

// <|endoftext|>, plus <|end|> when the tokenizer has it: what ends generation.
std::vector<int32_t> DefaultStopTokenIds(const Tokenizer& tokenizer);
// Every special token that ends generation, as a stop token or as a chat
// marker's text (<|endoftext|>, <|end|>, <|user|>, <|assistant|>,
// <|system|>, those the tokenizer has): what "ignore_eos" bans.
std::vector<int32_t> EndTokenIds(const Tokenizer& tokenizer);

}  // namespace talkie::tokenizer
