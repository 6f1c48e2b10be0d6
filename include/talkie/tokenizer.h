// talkie::Tokenizer: Talkie's byte-level BPE tokenizer (byte-exact with
// tiktoken), its special tokens and the IT chat template (spec §4).
//
//   talkie::Tokenizer tok = talkie::Tokenizer::ForModel(model);
//   std::vector<int32_t> ids = tok.Encode("And it came to pass");
//   std::string text = tok.Decode(ids);
//
// Thread safety: a Tokenizer is read-only after construction; any method may
// be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "talkie/export.h"

namespace talkie {

namespace tokenizer {
class Tokenizer;
}

class Model;

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant" ("developer" = system)
  std::string content;
};

// UTF-8 checks for showing token bytes (a token may hold part of a character).
// The offset of the first byte that is not well-formed UTF-8, or
// std::string_view::npos when all of `text` is.
TALKIE_API size_t FindInvalidUtf8(std::string_view text);
// `bytes` (e.g. Decode's or TokenBytes' output) as valid UTF-8: each maximal
// ill-formed subsequence becomes one U+FFFD, as Python's
// bytes.decode(errors="replace") does (for JSON, which must be UTF-8).
TALKIE_API std::string ReplaceInvalidUtf8(std::string_view bytes);

class TALKIE_API Tokenizer {
 public:
  // A vocab.txt, a tokenizer.json, a GGUF file, or a model directory holding
  // one of them. `style` picks the special-token set: "base" (<|endoftext|>)
  // or "it" (the chat markers too); "" = as the files say.
  static Tokenizer Load(const std::string& path, const std::string& style = "");
  // The tokenizer in the model's directory, with the special tokens the
  // model's vocabulary size implies (base or IT).
  static Tokenizer ForModel(const Model& model);
  // The tokenizer at `path` (as Load; a .gguf file too) with the special
  // tokens `model`'s vocabulary size implies; "" = ForModel(model).
  static Tokenizer ForModel(const Model& model, const std::string& path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Ids of `text` (valid UTF-8, else Error naming the byte offset). With
  // allow_special, special-token strings (<|endoftext|>, ...) become their
  // ids; otherwise they are encoded as ordinary text.
  std::vector<int32_t> Encode(std::string_view text, bool allow_special = false) const;
  // The bytes of the ids (special tokens give their text); an unknown id is
  // an Error naming it. Not necessarily valid UTF-8 (a cut multi-byte char).
  std::string Decode(const std::vector<int32_t>& ids) const;
  // The bytes of one token.
  std::string TokenBytes(int32_t id) const;

  // True for the IT vocabulary (has <|user|>, <|assistant|>, ...).
  bool is_chat() const;
  // The chat template a GGUF file carries (tokenizer.chat_template, as
  // llama.cpp's converter writes it: Jinja text), "" when the tokenizer came
  // from elsewhere or the file has none. Informational: ApplyChatTemplate and
  // EncodeChat always follow Talkie's IT template (spec §4).
  std::string file_chat_template() const;
  // Whether file_chat_template() is the IT template as llama.cpp's Talkie
  // converter writes it (what ApplyChatTemplate renders).
  bool file_chat_template_is_talkies() const;
  // The IT chat template: each message becomes <|role|>content<|end|>, then
  // <|assistant|> when add_generation_prompt. As text:
  std::string ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt = true) const;
  // As ids: markers become special ids, contents are encoded as ordinary
  // text (a content spelling a marker cannot inject one). IT tokenizer only.
  std::vector<int32_t> EncodeChat(const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt = true) const;

  // Special tokens as (text, id), and lookup by text.
  std::vector<std::pair<std::string, int32_t>> special_tokens() const;
  std::optional<int32_t> SpecialTokenId(std::string_view text) const;
  // The ids generation stops at by default: <|endoftext|>, plus <|end|> for IT.
  std::vector<int32_t> stop_token_ids() const;
  // Every special token that ends generation, as a stop token or as a chat
  // marker (<|endoftext|>, <|end|>, <|user|>, <|assistant|>, <|system|>,
  // those it has): what "ignore_eos" bans.
  std::vector<int32_t> end_token_ids() const;
  // Highest id + 1.
  int64_t vocab_size() const;

 private:
  friend struct TokenizerAccess;
  explicit Tokenizer(std::unique_ptr<tokenizer::Tokenizer> impl);
  std::unique_ptr<tokenizer::Tokenizer> impl_;
};

}  // namespace talkie
