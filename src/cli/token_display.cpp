// Token text for display (see token_display.h).
#include "cli/token_display.h"

#include <cstdint>
#include <cstdio>

#include "talkie/tokenizer.h"

namespace talkie::cli {
namespace {

// Length of the well-formed UTF-8 character starting at s[i], or 0 when
// s[i] starts none.
size_t Utf8CharLength(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t len = lead < 0x80         ? 1
                     : lead >> 5 == 0x6  ? 2
                     : lead >> 4 == 0xe  ? 3
                     : lead >> 3 == 0x1e ? 4
                                         : 0;
  if (len == 0 || i + len > s.size()) return 0;
  return FindInvalidUtf8(s.substr(i, len)) == std::string_view::npos ? len : 0;
}

const char* ShortEscape(char c) {
  switch (c) {
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return nullptr;
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
    if (const char* e = ShortEscape(c))
      out += e;
    else if (n == 1 && c >= 0x20 && c < 0x7f)
      out += c;
    else
      out += '?';
    i += n == 0 ? 1 : n;
  }
  if (out.size() > max_chars) out.resize(max_chars);
  return out;
}

}  // namespace talkie::cli
