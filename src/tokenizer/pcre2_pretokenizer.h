// Reference pre-tokenizer: Talkie's regex run by PCRE2 (JIT, UTF + UCP).
// Slower than the hand-written matcher; kept as the correctness baseline
// that tests and the benchmark compare against.
#pragma once

#include <string_view>
#include <vector>

namespace talkie::tokenizer {

class Pcre2Pretokenizer {
 public:
  Pcre2Pretokenizer();
  ~Pcre2Pretokenizer();
  Pcre2Pretokenizer(const Pcre2Pretokenizer&) = delete;
  Pcre2Pretokenizer& operator=(const Pcre2Pretokenizer&) = delete;

  // Pieces of one stretch of valid UTF-8 text (between special tokens).
  std::vector<std::string_view> Split(std::string_view text) const;

  // The pattern as given to PCRE2 (\s spelled out as White_Space).
  static const char* Pattern();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace talkie::tokenizer
