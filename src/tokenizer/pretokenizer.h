// Talkie's pre-tokenization (the o200k-style regex of spec §4), implemented
// as a hand-written matcher for that one fixed pattern. It reproduces the
// leftmost-first backtracking semantics of fancy-regex (and PCRE2) exactly;
// tests compare it with the PCRE2 engine (pcre2_pretokenizer.h) on the
// fixtures and on random strings.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "tokenizer/unicode_classes.h"

namespace talkie::tokenizer {

class Pretokenizer {
 public:
  Pretokenizer() : classes_(UnicodeClasses::Get()) {}

  // End offset of the regex match that starts at `pos` (< text.size()).
  // `text` is one stretch between special tokens and must be valid UTF-8;
  // every position starts a match, so pieces tile the stretch.
  size_t NextPieceEnd(std::string_view text, size_t pos) const;

  // Calls f(piece) for each piece of `text`, in order.
  template <typename F>
  void ForEachPiece(std::string_view text, F&& f) const {
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t end = NextPieceEnd(text, pos);
      f(text.substr(pos, end - pos));
      pos = end;
    }
  }

  std::vector<std::string_view> Split(std::string_view text) const;

 private:
  const UnicodeClasses& classes_;
};

}  // namespace talkie::tokenizer
