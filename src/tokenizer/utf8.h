// UTF-8 helpers for the tokenizer: strict validation of text to encode,
// code point encoding/decoding, and a streaming decoder with WHATWG
// TextDecoder semantics (used to print generated tokens as they arrive).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace talkie::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;
inline constexpr size_t kValidUtf8 = static_cast<size_t>(-1);

// Byte offset of the first byte that does not start a well-formed UTF-8
// sequence (Unicode Table 3-7: no overlongs, surrogates or values above
// U+10FFFF), or kValidUtf8 when the whole string is well formed.
size_t FindInvalidUtf8(std::string_view text);

// Appends the UTF-8 encoding of code point `cp` (must be a scalar value).
void AppendUtf8(uint32_t cp, std::string* out);

// Decodes the code point at `p`, which must start a well-formed sequence
// (callers validate first); stores its byte length in *len.
inline uint32_t DecodeUtf8Unchecked(const unsigned char* p, size_t* len) {
  const uint32_t b0 = p[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    *len = 2;
    return ((b0 & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (b0 < 0xF0) {
    *len = 3;
    return ((b0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  *len = 4;
  return ((b0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

// Incremental UTF-8 decoder following the WHATWG Encoding Standard's UTF-8
// decoder (streaming, BOM kept): a character is emitted as soon as its last
// byte arrives and each maximal ill-formed subsequence becomes one U+FFFD.
// Output is UTF-8 text.
class Utf8StreamDecoder {
 public:
  // Feeds bytes; returns the text completed by them.
  std::string Feed(std::string_view bytes);
  // Ends the stream: returns U+FFFD if a sequence was left incomplete.
  std::string Flush();

 private:
  void Reset() {
    needed_ = seen_ = 0;
    cp_ = 0;
    lower_ = 0x80;
    upper_ = 0xBF;
  }
  int needed_ = 0;
  int seen_ = 0;
  uint32_t cp_ = 0;
  unsigned lower_ = 0x80;
  unsigned upper_ = 0xBF;
};

// The whole of `bytes` through a Utf8StreamDecoder: each maximal ill-formed
// subsequence becomes one U+FFFD (e.g. for JSON output, which must be UTF-8).
std::string ReplaceInvalidUtf8(std::string_view bytes);

}  // namespace talkie::tokenizer
