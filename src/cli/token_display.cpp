// Token text for display (see token_display.h).
#include "cli/token_display.h"

#include <cstdint>
#include <cstdio>

namespace talkie::cli {
namespace {

// Length of the valid UTF-8 character starting at s[i], or 0 when invalid.
size_t Utf8CharLength(std::string_view s, size_t i) {
  const auto b = static_cast<uint8_t>(s[i]);
  size_t n = 0;
  uint32_t cp = 0;
  if (b < 0x80) return 1;
  if ((b & 0xe0) == 0xc0) n = 2, cp = b & 0x1f;
  else if ((b & 0xf0) == 0xe0) n = 3, cp = b & 0x0f;
  else if ((b & 0xf8) == 0xf0) n = 4, cp = b & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto c = static_cast<uint8_t>(s[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

const char* ShortEscape(char c) {
  switch (c) {
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: return nullptr;
  }
}

}  // namespace

std::string EscapeTokenText(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const char c = bytes[i];
    const size_t n = Utf8CharLength(bytes, i);
    if (const char* e = ShortEscape(c)) {
      out += e;
    } else if (c == '\\' || c == '"') {
      out += '\\', out += c;
    } else if (n == 0 || (n == 1 && (static_cast<uint8_t>(c) < 0x20 || c == 0x7f))) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<uint8_t>(c));
      out += hex;
      i += 1;
      continue;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
      continue;
    }
    i += 1;
  }
  return out;
}

std::string AsciiTokenLabel(std::string_view bytes, size_t max_chars) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const char c = bytes[i];
    const size_t n = Utf8CharLength(bytes, i);
    if (const char* e = ShortEscape(c)) out += e;
    else if (n == 1 && c >= 0x20 && c < 0x7f) out += c;
    else out += '?';
    i += n == 0 ? 1 : n;
  }
  if (out.size() > max_chars) out.resize(max_chars);
  return out;
}

}  // namespace talkie::cli
