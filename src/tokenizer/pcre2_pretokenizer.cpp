// PCRE2 version of the pre-tokenization regex. PCRE2 10.42's \s under UCP
// also matches U+180E (not White_Space since Unicode 6.3), so \s is written
// out as the White_Space list; (?i:...) under UTF folds 'ſ onto 's as
// fancy-regex does.
#include "tokenizer/pcre2_pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>

#include "common/error.h"

namespace talkie::tokenizer {

#define TALKIE_WS      \
  "\\t\\n\\x0B\\f\\r " \
  "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

const char* Pcre2Pretokenizer::Pattern() {
  return "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
         "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
         "*"
         "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
         "|\\p{N}{1,3}"
         "| ?[^" TALKIE_WS
         "\\p{L}\\p{N}]+[\\r\\n/]*"
         "|[" TALKIE_WS
         "]*[\\r\\n]+"
         "|[" TALKIE_WS "]+(?![^" TALKIE_WS
         "])"
         "|[" TALKIE_WS "]+";
}

struct Pcre2Pretokenizer::Impl {
  pcre2_code* code = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
};

Pcre2Pretokenizer::Pcre2Pretokenizer() : impl_(new Impl) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(Pattern()), PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr);
  Check(impl_->code != nullptr,
        "tokenizer: PCRE2 rejected the pre-tokenization pattern at offset " +
            std::to_string(err_off));
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
  impl_->stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
  impl_->context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack_assign(impl_->context, nullptr, impl_->stack);
}

Pcre2Pretokenizer::~Pcre2Pretokenizer() {
  pcre2_match_context_free(impl_->context);
  pcre2_jit_stack_free(impl_->stack);
  pcre2_code_free(impl_->code);
  delete impl_;
}

std::vector<std::string_view> Pcre2Pretokenizer::Split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  const auto* s = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    const int rc =
        pcre2_match(impl_->code, s, text.size(), pos, PCRE2_NO_UTF_CHECK, md, impl_->context);
    if (rc == PCRE2_ERROR_NOMATCH) break;  // Cannot happen: every character starts a match.
    if (rc < 0) {
      pcre2_match_data_free(md);
      throw Error("tokenizer: PCRE2 match failed with code " + std::to_string(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    pieces.push_back(text.substr(ov[0], ov[1] - ov[0]));
    pos = ov[1];
  }
  pcre2_match_data_free(md);
  return pieces;
}

}  // namespace talkie::tokenizer
