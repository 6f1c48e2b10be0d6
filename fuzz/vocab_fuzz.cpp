// libFuzzer target for the vocabulary loaders: arbitrary bytes as vocab.txt
// (or, when they start with '{', as tokenizer.json) must load or throw
// talkie::Error, never crash; a loaded vocabulary must build a tokenizer
// that round-trips a sample text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tok = talkie::tokenizer;
  const std::string_view contents(reinterpret_cast<const char*>(data), size);
  try {
    tok::Vocab vocab = contents.starts_with("{") ? tok::ParseHfTokenizerJson(contents, "fuzz")
                                                 : tok::ParseTiktokenVocab(contents, "fuzz");
    const auto n_ranks = static_cast<int32_t>(vocab.tokens.size());
    if (n_ranks > (1 << 20)) return 0;  // Keep each run small.
    const tok::Tokenizer t(std::move(vocab), tok::SpecialTokensFor(tok::Style::kIt, n_ranks),
                           tok::Style::kIt);
    const std::string text = "Hello, world!  It's 2024 <|end|> \u00e9\u4e2d\U0001F600\n";
    if (t.Decode(t.Encode(text, true)) != text) std::abort();
  } catch (const talkie::Error&) {
    // Rejected input is the expected outcome for most mutations.
  }
  return 0;
}
