// The tokenizer.ggml.* metadata of a GGUF file for a Talkie tokenizer, as
// llama.cpp's converter writes it (model "gpt2", pre "talkie", byte-level
// token strings, token types, merges, special ids, the IT chat template):
// the reverse of Tokenizer::FromGguf, so a file `talkie quantize` writes
// carries its tokenizer to llama.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace talkie::tokenizer {

// n_vocab: the model's embedding rows (>= the tokenizer's ids); ids the
// tokenizer does not use become "[PAD<id>]" entries of type unused.
// The merges are derived from the ranks: each token of two or more bytes is
// the merge of the two parts byte-pair encoding with only lower ranks leaves.
std::vector<io::GgufEntry> GgufTokenizerMetadata(const Tokenizer& tokenizer, int64_t n_vocab);

// The IT chat template (spec §4) as Jinja text, as written to
// tokenizer.chat_template.
extern const char* const kItChatTemplate;

}  // namespace talkie::tokenizer
