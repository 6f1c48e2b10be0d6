// Loading a BPE vocabulary: tiktoken's vocab.txt (`base64(bytes) rank` per
// line) or a Hugging Face byte-level BPE tokenizer.json (GPT-2
// byte-to-unicode token strings, ids = ranks, added_tokens = specials).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/special_tokens.h"

namespace talkie::io {
class GgufFile;
}

namespace talkie::tokenizer {

// vocab.txt keeps only ranks below this (spec §4: BASE_VOCAB_SIZE - 1).
inline constexpr int32_t kMaxRankExclusive = 65535;

struct Vocab {
  // tokens[rank] = bytes of that rank; an empty string marks an unused rank.
  // tokens.size() is the highest rank + 1 (R of the special-token rule).
  std::vector<std::string> tokens;
  // From tokenizer.json's added_tokens; empty for vocab.txt.
  std::vector<SpecialToken> added;
};

// Parses vocab.txt contents; `name` (the file) prefixes error messages,
// which name the line. Checks: valid base64, a decimal rank, no duplicate
// rank or token, and all 256 single bytes present.
Vocab ParseTiktokenVocab(std::string_view contents, const std::string& name);
Vocab LoadTiktokenVocab(const std::string& path);

// Parses tokenizer.json contents (model.vocab + added_tokens).
Vocab ParseHfTokenizerJson(std::string_view contents, const std::string& name);
Vocab LoadHfTokenizerJson(const std::string& path);

// The tokenizer of a GGUF file (tokenizer.ggml.* metadata), as llama.cpp's
// converter writes Talkie's: model "gpt2" (byte-level BPE), pre "talkie",
// one token string per id, token types NORMAL (a rank: id = rank), CONTROL /
// USER_DEFINED (added tokens: `added`) or UNUSED (a hole). Merges, if
// present, are not needed: they derive from the ranks. Errors name the file
// and the key or token id.
Vocab VocabFromGguf(const io::GgufFile& file);

// The GPT-2 byte-to-unicode table used by byte-level BPE token strings.
uint32_t ByteToUnicode(uint8_t byte);
// Its inverse; -1 for code points that encode no byte.
int ByteFromUnicode(uint32_t cp);
// A token's bytes as a byte-level token string (tokenizer.json, GGUF).
std::string BytesToByteLevel(std::string_view bytes);
// Its inverse; Error prefixed by `where` for a string that encodes no bytes.
std::string ByteLevelToBytes(std::string_view text, const std::string& where);

// Reads a whole file; Error naming the path if it cannot be read.
std::string ReadFileOrThrow(const std::string& path);

}  // namespace talkie::tokenizer
