// UTF-8 validation, encoding and the WHATWG-style streaming decoder.
#include "tokenizer/utf8.h"

namespace talkie::tokenizer {

size_t FindInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Skip ASCII eight bytes at a time: prose is mostly ASCII.
    while (i + 8 <= n) {
      uint64_t w = 0;
      for (int k = 0; k < 8; ++k) w |= static_cast<uint64_t>(s[i + k]) << (8 * k);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned b = s[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;  // Surrogates are not scalar values.
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + need >= n) {
      return i;
    }
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (int k = 2; k <= need; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += need + 1;
  }
  return kValidUtf8;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string Utf8StreamDecoder::Feed(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    const unsigned b = static_cast<unsigned char>(bytes[i]);
    if (needed_ == 0) {
      ++i;
      if (b < 0x80) {
        out.push_back(static_cast<char>(b));
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed_ = 1;
        cp_ = b & 0x1F;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower_ = 0xA0;
        if (b == 0xED) upper_ = 0x9F;
        needed_ = 2;
        cp_ = b & 0x0F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower_ = 0x90;
        if (b == 0xF4) upper_ = 0x8F;
        needed_ = 3;
        cp_ = b & 0x07;
      } else {
        AppendUtf8(kReplacementChar, &out);
      }
      continue;
    }
    if (b < lower_ || b > upper_) {
      // The sequence so far is one maximal ill-formed subsequence; the byte
      // that broke it is processed again as a possible lead byte.
      Reset();
      AppendUtf8(kReplacementChar, &out);
      continue;
    }
    ++i;
    lower_ = 0x80;
    upper_ = 0xBF;
    cp_ = (cp_ << 6) | (b & 0x3F);
    if (++seen_ == needed_) {
      AppendUtf8(cp_, &out);
      Reset();
    }
  }
  return out;
}

std::string Utf8StreamDecoder::Flush() {
  std::string out;
  if (needed_ != 0) {
    Reset();
    AppendUtf8(kReplacementChar, &out);
  }
  return out;
}

std::string ReplaceInvalidUtf8(std::string_view bytes) {
  Utf8StreamDecoder decoder;
  std::string text = decoder.Feed(bytes);
  return text + decoder.Flush();  // Flush strictly after Feed.
}

}  // namespace talkie::tokenizer
