// StopFilter implementation. Lengths are counted in UTF-8 characters so
// held-back text is never split inside a character.
#include "tokenizer/stop_filter.h"

#include <algorithm>

#include "tokenizer/special_tokens.h"

namespace talkie::tokenizer {
namespace {

bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

size_t CountChars(std::string_view s) {
  return std::count_if(s.begin(), s.end(), [](char c) { return !IsContinuation(c); });
}

}  // namespace

std::vector<std::string> StopFilter::ChatMarkers() {
  return {std::string(kUser), std::string(kAssistant), std::string(kSystem), std::string(kEnd),
          std::string(kEndOfText)};
}

StopFilter::StopFilter(std::vector<std::string> extra) : stops_(ChatMarkers()) {
  for (std::string& s : extra) {
    if (!s.empty()) stops_.push_back(std::move(s));  // An empty stop would match at once.
  }
  for (const std::string& s : stops_) hold_chars_ = std::max(hold_chars_, CountChars(s) - 1);
}

std::string StopFilter::Push(std::string_view text) {
  if (stopped_) return "";
  pending_ += text;
  size_t best = std::string::npos;
  for (const std::string& s : stops_) {
    const size_t at = pending_.find(s);
    if (at < best || (at == best && at != std::string::npos && s.size() > matched_.size())) {
      best = at;
      matched_ = s;
    }
  }
  if (best != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, best);
    pending_.clear();
    return out;
  }
  // Keep the last hold_chars_ characters: any stop string starting earlier
  // would already lie wholly inside pending_ and have been found.
  size_t cut = pending_.size();
  for (size_t kept = 0; kept < hold_chars_ && cut > 0; ++kept) {
    do {
      --cut;
    } while (cut > 0 && IsContinuation(pending_[cut]));
  }
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string StopFilter::Flush() {
  if (stopped_) return "";
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace talkie::tokenizer
