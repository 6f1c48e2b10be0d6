// Builds the two-stage class table by scanning every scalar value with PCRE2
// JIT once; the scan takes a few tens of milliseconds and avoids a generated
// table that could drift from the PCRE2 engine used as the reference.
#include "tokenizer/unicode_classes.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace {

constexpr uint32_t kNumCodePoints = 0x110000;

// Sets `flag` in classes[cp] for every code point matched by `pattern`
// (a one-character class followed by `+`) in `all`, the UTF-8 text of all
// scalar values in order.
void MarkClass(const std::string& all, const char* pattern, uint8_t flag,
               std::vector<uint8_t>* classes) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* re =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                    PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  Check(re != nullptr, std::string("tokenizer: cannot compile class pattern ") + pattern);
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(re, nullptr);
  const auto* s = reinterpret_cast<PCRE2_SPTR>(all.data());
  PCRE2_SIZE pos = 0;
  while (pos < all.size() &&
         pcre2_match(re, s, all.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr) >= 0) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    for (size_t i = ov[0]; i < ov[1];) {
      size_t len = 0;
      const uint32_t cp = DecodeUtf8Unchecked(s + i, &len);
      (*classes)[cp] |= flag;
      i += len;
    }
    pos = ov[1];
  }
  pcre2_match_data_free(md);
  pcre2_code_free(re);
}

}  // namespace

const UnicodeClasses& UnicodeClasses::Get() {
  static const UnicodeClasses* table = new UnicodeClasses();  // Never destroyed: used at exit.
  return *table;
}

UnicodeClasses::UnicodeClasses() {
  std::string all;
  all.reserve(4 * kNumCodePoints);
  for (uint32_t cp = 0; cp < kNumCodePoints; ++cp) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    AppendUtf8(cp, &all);
  }
  std::vector<uint8_t> classes(kNumCodePoints, 0);
  MarkClass(all, "\\p{L}+", kClassLetter, &classes);
  MarkClass(all, "\\p{N}+", kClassNumber, &classes);
  MarkClass(all, "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+", kClassUpper, &classes);
  MarkClass(all, "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+", kClassLower, &classes);
  for (char32_t cp : kWhiteSpace) classes[cp] |= kClassSpace;
  classes['\r'] |= kClassNewline;
  classes['\n'] |= kClassNewline;
  for (uint32_t cp = 0; cp < kNumCodePoints; ++cp) {
    uint8_t& c = classes[cp];
    const bool letter_or_number = c & (kClassLetter | kClassNumber);
    if (!letter_or_number && !(c & kClassNewline)) c |= kClassNotLN;
    if (!letter_or_number && !(c & kClassSpace)) c |= kClassPunct;
  }
  // Deduplicate 256-entry blocks: most of the code space is a few patterns.
  std::map<std::string, uint16_t> seen;
  std::string unique;
  for (uint32_t b = 0; b < 0x1100; ++b) {
    std::string block(reinterpret_cast<const char*>(&classes[b << 8]), 256);
    auto [it, inserted] = seen.emplace(block, static_cast<uint16_t>(seen.size()));
    if (inserted) unique += block;
    stage1_[b] = it->second;
  }
  blocks_ = new uint8_t[unique.size()];
  std::memcpy(blocks_, unique.data(), unique.size());
}

}  // namespace talkie::tokenizer
