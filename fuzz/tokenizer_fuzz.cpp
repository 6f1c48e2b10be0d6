// libFuzzer target for the encoder. The first byte picks the style and
// whether special tokens are allowed; the rest is the text. Valid UTF-8
// must round-trip and pre-tokenize exactly as PCRE2 does; invalid UTF-8
// must be rejected with talkie::Error. The streaming decoder and stop
// filter run on the raw bytes as well.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"
#include "tokenizer/pcre2_pretokenizer.h"
#include "tokenizer/stop_filter.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

namespace tok = talkie::tokenizer;

// The fixture vocabulary: $TALKIE_FUZZ_VOCAB, else tests/data/tokenizer/
// vocab.txt under the working directory (scripts/fuzz.sh runs from the
// repository root), else beside this source file. A missing vocab is a
// start-up error, not a crash inside the fuzzer.
std::string VocabPath() {
  if (const char* path = std::getenv("TALKIE_FUZZ_VOCAB")) return path;
  const std::filesystem::path in_cwd = "tests/data/tokenizer/vocab.txt";
  if (std::filesystem::exists(in_cwd)) return in_cwd.string();
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / in_cwd).string();
}

const tok::Tokenizer& Get(bool it) {
  static const tok::Tokenizer* base =
      new tok::Tokenizer(tok::Tokenizer::FromVocabTxt(VocabPath(), tok::Style::kBase));
  static const tok::Tokenizer* chat =
      new tok::Tokenizer(tok::Tokenizer::FromVocabTxt(VocabPath(), tok::Style::kIt));
  return it ? *chat : *base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool it = data[0] & 1;
  const bool allow_special = data[0] & 2;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const tok::Tokenizer& t = Get(it);

  // Streaming decode of arbitrary bytes always yields valid UTF-8.
  tok::Utf8StreamDecoder decoder;
  std::string decoded;
  for (size_t i = 0; i < text.size(); i += 3) decoded += decoder.Feed(text.substr(i, 3));
  decoded += decoder.Flush();
  if (tok::FindInvalidUtf8(decoded) != tok::kValidUtf8) std::abort();

  const bool valid = tok::FindInvalidUtf8(text) == tok::kValidUtf8;
  try {
    const auto ids = t.Encode(text, allow_special);
    if (!valid) std::abort();  // Invalid UTF-8 must be rejected.
    if (t.Decode(ids) != text) std::abort();
  } catch (const talkie::Error&) {
    if (valid) std::abort();
    return 0;
  }

  // The hand-written pre-tokenizer agrees with PCRE2 on the whole text.
  static const tok::Pcre2Pretokenizer* pcre = new tok::Pcre2Pretokenizer();
  if (t.pretokenizer().Split(text) != pcre->Split(text)) std::abort();

  // Stop filtering never emits more than its input.
  tok::StopFilter filter;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 5) out += filter.Push(text.substr(i, 5));
  out += filter.Flush();
  if (text.compare(0, out.size(), out) != 0) std::abort();
  return 0;
}
