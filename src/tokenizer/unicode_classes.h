// Per-code-point character classes used by Talkie's pre-tokenization regex,
// as a compact two-stage lookup table. The table is derived once per process
// from PCRE2's Unicode database (so both regex engines agree by construction)
// plus the fixed White_Space list.
#pragma once

#include <cstdint>

namespace talkie::tokenizer {

// Bit flags of one code point.
enum CharClass : uint8_t {
  kClassLetter = 1,    // \p{L}
  kClassNumber = 2,    // \p{N}
  kClassUpper = 4,     // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  kClassLower = 8,     // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  kClassSpace = 16,    // \s as Unicode White_Space
  kClassNewline = 32,  // [\r\n]
  kClassNotLN = 64,    // [^\r\n\p{L}\p{N}]
  kClassPunct = 128,   // [^\s\p{L}\p{N}]
};

// The White_Space property (stable since Unicode 6.3): the regex's \s.
inline constexpr char32_t kWhiteSpace[] = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x20,   0x85,
                                           0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
                                           0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028,
                                           0x2029, 0x202F, 0x205F, 0x3000};

class UnicodeClasses {
 public:
  // The process-wide table (built on first use, thread-safe).
  static const UnicodeClasses& Get();

  uint8_t Of(uint32_t cp) const { return blocks_[(stage1_[cp >> 8] << 8) | (cp & 0xFF)]; }
  // ASCII lookups skip the two-stage indirection.
  const uint8_t* ascii() const { return blocks_; }

 private:
  UnicodeClasses();
  uint16_t stage1_[0x1100];
  uint8_t* blocks_ = nullptr;  // Unique 256-entry blocks; block 0 covers U+0000..U+00FF.
};

}  // namespace talkie::tokenizer
