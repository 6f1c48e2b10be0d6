// StopFilter implementation. The held-back tail begins where a stop string
// begins, so it never splits a UTF-8 character.
#include "tokenizer/stop_filter.h"

#include <algorithm>

#include "tokenizer/special_tokens.h"

namespace talkie::tokenizer {

std::vector<std::string> StopFilter::ChatMarkers() {
  return {std::string(kUser), std::string(kAssistant), std::string(kSystem), std::string(kEnd),
          std::string(kEndOfText)};
}

StopFilter::StopFilter(std::vector<std::string> extra) : stops_(ChatMarkers()) {
  for (std::string& s : extra) {
    if (!s.empty()) stops_.push_back(std::move(s));  // An empty stop would match at once.
  }
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
  // Hold back the longest tail that a stop string could still start with;
  // everything before it is final. (A stop string starting earlier would lie
  // wholly inside pending_ and have been found above.)
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t n = std::min(s.size() - 1, pending_.size()); n > hold; --n) {
      if (pending_.compare(pending_.size() - n, n, s, 0, n) == 0) {
        hold = n;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopFilter::Flush() {
  if (stopped_) return "";
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace talkie::tokenizer
