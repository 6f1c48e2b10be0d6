// The hand-written pre-tokenization matcher. Each alternative of the pattern
//   1 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
//   2 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
//   3 \p{N}{1,3}
//   4  ?[^\s\p{L}\p{N}]+[\r\n/]*
//   5 \s*[\r\n]+
//   6 \s+(?!\S)
//   7 \s+
// is tried in order at the current position, and within an alternative the
// result is the first one a backtracking engine would reach (greedy
// quantifiers give back characters from the right). Nothing follows the
// alternation, so each alternative reduces to a short scan; the comments
// below say which backtracking choice each scan reproduces.
#include "tokenizer/pretokenizer.h"

#include "tokenizer/utf8.h"

namespace talkie::tokenizer {
namespace {

constexpr size_t kNoMatch = static_cast<size_t>(-1);

class Scanner {
 public:
  Scanner(std::string_view text, const UnicodeClasses& classes)
      : s_(reinterpret_cast<const unsigned char*>(text.data())),
        n_(text.size()),
        ascii_(classes.ascii()),
        classes_(classes) {}

  // Class flags of the character at i (< n) and its byte length.
  uint8_t At(size_t i, size_t* len) const {
    const unsigned b = s_[i];
    if (b < 0x80) {
      *len = 1;
      return ascii_[b];
    }
    return classes_.Of(DecodeUtf8Unchecked(s_ + i, len));
  }

  // End of the run of characters having any of `mask`, starting at i.
  size_t Run(size_t i, uint8_t mask) const {
    size_t len;
    while (i < n_ && (At(i, &len) & mask)) i += len;
    return i;
  }

  // (?i:'s|'t|'re|'ve|'m|'ll|'d)? at i. Under simple case folding only
  // U+017F (long s) folds onto one of these ASCII letters.
  size_t Contraction(size_t i) const {
    if (i + 1 >= n_ || s_[i] != '\'') return i;
    const unsigned c = s_[i + 1];
    switch (c | 0x20) {
      case 's':
      case 't':
      case 'm':
      case 'd':
        return i + 2;
      case 'r':
      case 'v':
        return (i + 2 < n_ && (s_[i + 2] | 0x20) == 'e') ? i + 3 : i;
      case 'l':
        return (i + 2 < n_ && (s_[i + 2] | 0x20) == 'l') ? i + 3 : i;
      default:
        break;
    }
    if (c == 0xC5 && i + 2 < n_ && s_[i + 2] == 0xBF) return i + 3;  // 'ſ
    return i;
  }

  // Alternative 1 without its optional prefix: U* W+ C?. U* first takes its
  // longest run; backtracking then stops at the last position where W can
  // start: just after the run if a W follows it, otherwise the last
  // character of the run that is in both classes (Lm, Lo, M).
  size_t Letters1(size_t i) const {
    size_t last_both = kNoMatch;
    size_t len;
    while (i < n_) {
      const uint8_t f = At(i, &len);
      if (!(f & kClassUpper)) break;
      if (f & kClassLower) last_both = i;
      i += len;
    }
    size_t w;
    if (i < n_ && (At(i, &len) & kClassLower)) {
      w = i;
    } else if (last_both != kNoMatch) {
      w = last_both;
    } else {
      return kNoMatch;
    }
    return Contraction(Run(w, kClassLower));
  }

  // Alternative 2 without its prefix: U+ W* C? never needs to backtrack.
  size_t Letters2(size_t i) const {
    const size_t u = Run(i, kClassUpper);
    if (u == i) return kNoMatch;
    return Contraction(Run(u, kClassLower));
  }

  size_t Match(size_t pos) const {
    size_t len0;
    const uint8_t f0 = At(pos, &len0);
    // Alternatives 1 and 2: the optional prefix is tried taken, then skipped.
    if (f0 & (kClassNotLN | kClassUpper | kClassLower)) {
      const bool prefix = f0 & kClassNotLN;
      size_t e;
      if (prefix && (e = Letters1(pos + len0)) != kNoMatch) return e;
      if ((f0 & (kClassUpper | kClassLower)) && (e = Letters1(pos)) != kNoMatch) return e;
      if (prefix && (e = Letters2(pos + len0)) != kNoMatch) return e;
      if ((f0 & kClassUpper) && (e = Letters2(pos)) != kNoMatch) return e;
    }
    // Alternative 3: up to three numbers.
    if (f0 & kClassNumber) {
      size_t i = pos + len0, len;
      for (int k = 1; k < 3 && i < n_ && (At(i, &len) & kClassNumber); ++k) i += len;
      return i;
    }
    // Alternative 4: an optional space, punctuation, then [\r\n/]*.
    size_t start = pos;
    size_t len;
    if (s_[pos] == ' ' && pos + 1 < n_ && (At(pos + 1, &len) & kClassPunct)) start = pos + 1;
    if (start != pos || (f0 & kClassPunct)) {
      size_t i = Run(start, kClassPunct);
      while (i < n_ && (s_[i] == '\r' || s_[i] == '\n' || s_[i] == '/')) ++i;
      return i;
    }
    // Alternatives 5-7 (f0 is whitespace here): scan the whitespace run.
    size_t i = pos, last_newline = kNoMatch, last_start = pos;
    while (i < n_) {
      const uint8_t f = At(i, &len);
      if (!(f & kClassSpace)) break;
      if (f & kClassNewline) last_newline = i;
      last_start = i;
      i += len;
    }
    // 5: \s* gives back until [\r\n]+ can match: up to the last newline.
    if (last_newline != kNoMatch) return last_newline + 1;
    // 6: at the end of the stretch, the whole run.
    if (i == n_) return i;
    // 6: before a non-space, the run minus its last character...
    if (last_start > pos) return last_start;
    // 7: ...unless that leaves nothing: then the single character.
    return i;
  }

 private:
  const unsigned char* s_;
  size_t n_;
  const uint8_t* ascii_;
  const UnicodeClasses& classes_;
};

}  // namespace

size_t Pretokenizer::NextPieceEnd(std::string_view text, size_t pos) const {
  return Scanner(text, classes_).Match(pos);
}

std::vector<std::string_view> Pretokenizer::Split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  ForEachPiece(text, [&](std::string_view piece) { pieces.push_back(piece); });
  return pieces;
}

}  // namespace talkie::tokenizer
